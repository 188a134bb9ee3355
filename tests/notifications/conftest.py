"""Fixtures of the notifications tests: the service's database (SQLite, and PostgreSQL when
core's tests run there), a real SMTP server (aiosmtpd), a real webhook receiver, a clock the
tests move, the worker driven step by step, and the app with a client per user.

Core runs over real HTTP (``core_server``); the tests change things in core through its API
as users would, and look at what reached the SMTP server, the receiver and the inbox.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cardcrm.notifications import create_app
from cardcrm.notifications.migrate import upgrade
from cardcrm.notifications.models import Base
from cardcrm.notifications.worker import Worker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import empty_postgres

POSTGRES_URL = os.environ.get("CARDCRM_TEST_POSTGRES_URL")


# --- a real SMTP server -------------------------------------------------------------------------


class Mailbox:
    """What an SMTP server received: parsed messages with their envelope."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.arrived_at: list[float] = []
        self._lock = threading.Condition()
        self.refuse_with: str | None = None  # e.g. "451 try later" to refuse every message
        self.url = ""

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.arrived_at.clear()
            self.refuse_with = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.arrived_at.append(time.monotonic())
            self._lock.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        with self._lock:
            self._lock.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailbox.url = f"smtp://127.0.0.1:{port}?from=cardcrm@example.com"
    yield mailbox
    controller.stop()


@pytest.fixture
def smtp(smtp_server: Mailbox) -> Mailbox:
    """The SMTP server (one per session), emptied for this test."""
    smtp_server.reset()
    return smtp_server


# --- a real webhook receiver --------------------------------------------------------------------


class Receiver:
    """An HTTP server that records webhook requests; it can fail a few times, or always."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_times = 0
        self.always_fail = False
        self.fail_status = 503
        self.delay = 0.0  # seconds before answering: a slow receiver
        self.on_request: Any = None  # called with each request's body, before answering
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                failing = receiver.always_fail or receiver.fail_times > 0
                if receiver.fail_times > 0:
                    receiver.fail_times -= 1
                status = receiver.fail_status if failing else 204
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "status": status,
                    }
                )
                if receiver.on_request is not None:
                    receiver.on_request(body)
                time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cardcrm"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def delivered(self) -> list[dict[str, Any]]:
        return [request for request in self.requests if request["status"] < 300]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


# --- the notifications database -----------------------------------------------------------------


@pytest.fixture(scope="session")
def notifications_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("notifications-template") / "notifications.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def notifications_postgres() -> Iterator[str]:
    assert POSTGRES_URL
    name = f"cardcrm_notifications_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def notifications_database_url(database_url: str, tmp_path: Path, request: Any) -> str:
    """The service's own database, on the same kind of database as core's in this test."""
    if not database_url.startswith("postgresql"):
        path = tmp_path / "notifications.db"
        shutil.copyfile(request.getfixturevalue("notifications_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("notifications_postgres")
    empty_postgres(url, Base.metadata)
    return url


# --- the service ----------------------------------------------------------------------------------


class Clock:
    """A clock the test moves: ``clock()`` is now; ``clock.advance(minutes=5)``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, value: datetime) -> datetime:
        self.now = value.astimezone(UTC)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(
    core_server: Any, notifications_database_url: str, smtp: Mailbox, tmp_path: Path, clock: Clock
) -> dict[str, Any]:
    # Core's Today view sees the worker's time: what has passed is overdue in the digest.
    core_server.app.config["CLOCK"] = clock
    return {
        "TESTING": True,
        "CLOCK": clock,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": notifications_database_url,
        "CORE_URL": core_server.url,
        "SERVICE_TOKEN": core_server.service_token,
        "SECRET_KEY": "notifications-test-secret",
        "SMTP_URL": smtp.url,
        "PUBLIC_URL": "https://crm.example.com",
        "PLUGIN_ENTRY_POINTS": False,
        "NOTIFY_PAST_EVENTS": True,
        "DELIVERY_BACKOFF_SECONDS": 10.0,
        "DELIVERY_MAX_ATTEMPTS": 4,
        "WEBHOOK_TIMEOUT_SECONDS": 3.0,
        # The webhook receivers listen on loopback, which the outbound guard refuses unless
        # the operator allows it; 127.0.0.2 and beyond stay refused.
        "OUTBOUND_ALLOW": "127.0.0.1",
    }


@pytest.fixture
def worker(settings: dict[str, Any], clock: Clock) -> Iterator[Worker]:
    worker = Worker(settings, clock=clock)
    yield worker
    worker.context.close()


@pytest.fixture
def notifications_app(settings: dict[str, Any]) -> Iterator[Any]:
    app = create_app(settings)
    yield app
    app.extensions["cardcrm_notifications"].close()


class Notifications:
    """The notifications API as one user calls it (their core token)."""

    def __init__(self, client: Any, token: str | None) -> None:
        self.client, self.token = client, token

    def request(
        self, method: str, path: str, json: Any = None, headers: Any = None, **kwargs: Any
    ) -> Any:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.client.open(
            "/api/v1/" + path.lstrip("/"), method=method, json=json, headers=headers, **kwargs
        )

    def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        response = self.request(method, path, json)
        assert response.status_code == status, (response.status_code, response.get_json())
        return response.get_json()

    def preferences(self, **changes: Any) -> dict[str, Any]:
        return self.ok("PATCH", "preferences", changes)

    def inbox(self) -> list[dict[str, Any]]:
        return self.ok("GET", "inbox")["items"]

    def deliveries(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{key}={value}" for key, value in filters.items())
        return self.ok("GET", f"deliveries?{query}")["items"]


@pytest.fixture
def notifications(notifications_app: Any) -> Any:
    """``notifications(member)``: the notifications API as that core user (an ``Api``)."""
    client = notifications_app.test_client()

    def as_user(user: Any) -> Notifications:
        return Notifications(client, getattr(user, "token", user))

    return as_user
