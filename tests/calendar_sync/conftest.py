"""Fixtures of the calendar sync tests: the service's own database, a real Radicale server, the
calendar app a user would have, and the service wired to core over real HTTP.

The sync worker is driven step by step (``calendar.catch_up()``, ``calendar.sync(account)``)
so that tests are deterministic; the tests of the worker process and thread run it for real.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import caldav
import pytest
from cardcrm.calendar_sync import create_app
from cardcrm.calendar_sync.caldav.sync import CalDAVSync
from cardcrm.calendar_sync.db import Base
from cardcrm.calendar_sync.migrate import upgrade
from icalendar import Calendar
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import empty_postgres

PUBLIC_URL = "https://crm.example.com/calendar"
CORE_PUBLIC_URL = "https://crm.example.com"
#: CARDCRM_OUTBOUND_ALLOW of these tests: where Radicale listens.
OUTBOUND_ALLOW = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def core_server(app: Any) -> Iterator[Any]:
    """Core over real HTTP with a service token, as the shared fixture of the same name, but
    stopped at once (the shared one waits out half a second of polling per test)."""
    import threading
    from types import SimpleNamespace

    from cardcrm.common.db import get_db
    from cardcrm.core.auth.service import create_token
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="tests")
        session.close()
    yield SimpleNamespace(
        url=f"http://127.0.0.1:{port}", app=app, service_token=token, server=server
    )
    server.shutdown()
    server.server_close()
    thread.join(5)


# --- the service's database -------------------------------------------------------------------


@pytest.fixture(scope="session")
def calendar_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("calendar-template") / "calendar.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def calendar_postgres(postgres_database: str) -> Iterator[str]:
    """A migrated PostgreSQL database of the calendar service, beside core's test database."""
    name = f"cardcrm_calendar_test_{uuid.uuid4().hex[:10]}"
    server = make_url(postgres_database).set(database="postgres")
    admin = create_engine(
        server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_database).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def calendar_database_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The calendar service's database, on the same kind of database as core's in this test."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "calendar.db"
        shutil.copyfile(request.getfixturevalue("calendar_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("calendar_postgres")
    empty_postgres(url, Base.metadata)
    return url


# --- Radicale -----------------------------------------------------------------------------------


class Radicale:
    """A real Radicale server in its own process, on a free loopback port."""

    def __init__(self, folder: Path, *, users: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = folder / "radicale.log"
        self.config = folder / "config"
        auth = "type = none\ndelay = 0"
        if users is not None:
            htpasswd = folder / "users"
            htpasswd.write_text("".join(f"{name}:{word}\n" for name, word in users.items()))
            auth = f"type = htpasswd\nhtpasswd_filename = {htpasswd}\nhtpasswd_encryption = plain"
            auth += "\ndelay = 0"  # no pause after a failed login
        self.config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\n{auth}\n"
            "[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> Radicale:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Radicale exited: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Radicale did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """One Radicale for the session; each test uses its own user (so its own calendars)."""
    server = Radicale(tmp_path_factory.mktemp("radicale")).start()
    yield server
    server.stop()


@pytest.fixture
def own_radicale(tmp_path: Path) -> Iterator[Radicale]:
    """A Radicale of this test alone, which it may stop and start again."""
    folder = tmp_path / "radicale"
    folder.mkdir()
    server = Radicale(folder).start()
    yield server
    server.stop()


class CalendarApp:
    """What a user's calendar app does to the to-dos in their CalDAV calendar."""

    def __init__(self, calendar_url: str, username: str, password: str = "app-password") -> None:
        parts = urlsplit(calendar_url)
        self.client = caldav.DAVClient(
            url=f"{parts.scheme}://{parts.netloc}/",
            username=username,
            password=password,
            enable_rfc6764=False,
        )
        self.calendar = caldav.Calendar(client=self.client, url=calendar_url)

    def todos(self) -> list[Any]:
        """Every VTODO in the calendar (parsed), duplicates included."""
        found = []
        listing = self.calendar.get_objects_by_sync_token(load_objects=True)
        for item in listing:
            if item.url.canonical() not in listing.deleted_urls and item.data:
                found.extend(Calendar.from_ical(item.data).walk("VTODO"))
        return found

    def by_uid(self) -> dict[str, Any]:
        todos = self.todos()
        by_uid = {str(todo["UID"]): todo for todo in todos}
        assert len(by_uid) == len(todos), "a task is in the calendar twice"
        return by_uid

    def edit(self, uid: str, **changes: Any) -> None:
        """Change a to-do as an app would: ``STATUS="COMPLETED"``, ``DUE=date``..."""
        todo = self.calendar.get_todo_by_uid(uid)
        component = todo.icalendar_component
        for name, value in changes.items():
            name = name.replace("_", "-")
            component.pop(name, None)
            if value is not None:
                component.add(name, value)
        todo.save(increase_seqno=False)

    def delete(self, uid: str) -> None:
        self.calendar.get_todo_by_uid(uid).delete()


# --- the service --------------------------------------------------------------------------------


@pytest.fixture
def calendar_settings(calendar_database_url: str, core_server: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": calendar_database_url,
        "CORE_URL": core_server.url,
        "CORE_PUBLIC_URL": CORE_PUBLIC_URL,
        "SERVICE_TOKEN": core_server.service_token,
        "SECRET_KEY": "calendar-test-secret-key-0123456789",
        "PUBLIC_URL": PUBLIC_URL,
        "PULL_SECONDS": 3600,
        # The test servers (Radicale) listen on loopback, which the outbound guard refuses
        # unless the operator allows it; 127.0.0.2 and beyond stay refused.
        "OUTBOUND_ALLOW": OUTBOUND_ALLOW,
    }


class CalendarService:
    """The calendar sync service under test, with the worker driven by hand."""

    def __init__(self, app: Any, api_class: type) -> None:
        self.app = app
        self.context = app.extensions["calendar_sync"]
        self.client = app.test_client()
        self.follower = self.context.follower()
        self.sync_worker = CalDAVSync(self.context, base_backoff=0.01, max_backoff=0.05)
        self._api_class = api_class

    def api(self, user: Any) -> Any:
        """``user`` (a core API helper) talking to this service with the same token."""
        return self._api_class(self.client, user.token, user.user)

    def catch_up(self) -> int:
        """Apply every event core has to the mirror (what the worker's follower does)."""
        return self.follower.catch_up()

    def sync(self, account_id: int, **options: Any) -> Any:
        return self.sync_worker.sync_account(account_id, **options)

    # feeds

    def new_feed(self, user: Any) -> str:
        return self.api(user).ok("POST", "feed", status=201)["url"]

    def get(self, url: str, **headers: str) -> Any:
        """The answer to a GET of ``url``, read and closed as a WSGI server closes every answer
        it sent (what the request left to do after its answer runs then: ``FeedAnswer.keep``)."""
        assert url.startswith(PUBLIC_URL), url
        response = self.client.get(url.removeprefix(PUBLIC_URL), headers=headers)
        response.get_data()
        response.close()
        return response

    def feed(self, url: str, **headers: str) -> Calendar:
        response = self.get(url, **headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/calendar"
        return Calendar.from_ical(response.data)

    # CalDAV

    def connect(
        self, user: Any, radicale: Radicale, username: str | None = None, **body: Any
    ) -> dict:
        username = username or f"user-{uuid.uuid4().hex[:8]}"
        body = {"url": radicale.url, "username": username, "password": "app-password", **body}
        return self.api(user).ok("POST", "caldav", body, status=201)

    def account(self, user: Any, account_id: int) -> dict:
        return self.api(user).ok("GET", f"caldav/{account_id}")


@pytest.fixture
def calendar(calendar_settings: dict[str, Any], member: Any) -> Iterator[CalendarService]:
    app = create_app(calendar_settings)
    service = CalendarService(app, type(member))
    yield service
    service.sync_worker.close()
    service.context.close()


@pytest.fixture
def sales(admin: Any, member: Any) -> dict:
    """A sales product whose member is ``member``."""
    product = admin.product("sales")
    admin.grant(product, member)
    return product


def calendar_app_of(account: dict) -> CalendarApp:
    return CalendarApp(account["calendar_url"], account["username"])
