"""Benchmark: a change made through one core instance, reaching the sidecars that follow another.

``python -m bench.sidecar_latency --url postgresql+psycopg://...`` (a database it may create and
empty: the default is ``bench_cardcrm_sidecars`` on ``CARDCRM_BENCH_POSTGRES_URL``'s server).

Core runs as three apps with their own engines on one PostgreSQL database (as in
``bench.events_notify``), each served over real HTTP on loopback: the *writer* instance, where
changes are made through the API; the *notify* instance, whose long-polls ``LISTEN``; the *poll*
instance, without a listener (the fallback: its long-polls look at the database every 0.5 s).
Each followed instance has its own pair of real sidecar workers in threads of this process: a
notifications worker (``Worker.run``) sending e-mail to a real SMTP server (aiosmtpd, loopback),
and a calendar sync worker (``worker.run``) pushing to-dos to a real Radicale. The sidecars keep
their own databases in SQLite files; what is measured is how soon they hear of the change.

A user assigns a task to another through the writer; measured, from sending the write, is the
time until each pair's e-mail has arrived at the SMTP server and until its to-do can be read
from Radicale. Both pairs see every change at the same moment on the same machine, so the
``NOTIFY`` and fallback figures come from the same run, change by change. The aim (the
issue's): change → e-mail and change → CalDAV p95 under 200 ms with ``NOTIFY``.

Results go to ``bench/results/sidecar-latency-postgresql-<time>.json`` (and
``...-latest.json``); ``--docs`` also writes the table into docs/benchmarks.md between
``<!-- sidecar-latency: begin -->`` and its end marker.
"""

from __future__ import annotations

import email.policy
import logging
import os
import sys
import tempfile
import threading
import time
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import requests
from aiosmtpd.controller import Controller
from cardcrm.common.db import get_db
from cardcrm.core import create_app
from cardcrm.core.auth.service import create_token, create_user
from flask import Flask

from .calendar import radicale_server
from .database import display_url
from .events_notify import (
    _fresh_database,
    _percentile,
    _summary,
    latency_main,
    latency_table,
    serving,
)
from .load import _code_version
from .notifications import CoreApi, free_port, make_cards

AIM_P95_MS = 200.0
KINDS = ("notify", "poll")
PATHS = ("email", "caldav")
PATH_NAMES = {"email": "e-mail", "caldav": "CalDAV"}
SECRET = "bench-sidecar-latency-secret-key-0123456789"


class Mailbox:
    """An SMTP handler noting when each message arrived, by sender and the task number in its
    subject (each notifications worker sends from its own address)."""

    def __init__(self) -> None:
        self.arrivals: dict[tuple[str, int], float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        arrived = time.perf_counter()
        headers = BytesParser(policy=email.policy.default).parsebytes(
            envelope.content, headersonly=True
        )
        subject = str(headers["Subject"] or "")
        if "#" in subject:
            self.arrivals[(envelope.mail_from, int(subject.rsplit("#", 1)[-1]))] = arrived
        return "250 OK"


def run(url: str, rounds: int, changes: int, log: Any = print) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    _fresh_database(url)
    apps = {
        name: create_app({"DATABASE_URL": url, "SECRET_KEY": "x" * 32})
        for name in ("writer", *KINDS)
    }
    apps["poll"].extensions.pop("cardcrm_event_listener").stop()
    tokens, member = _setup(apps["writer"])
    samples: dict[str, list[float]] = {f"{kind}_{path}": [] for kind in KINDS for path in PATHS}
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    stop = threading.Event()
    threads: list[threading.Thread] = []
    with (
        tempfile.TemporaryDirectory(prefix="cardcrm-bench-sidecars-") as folder,
        serving(apps) as bases,
        radicale_server(Path(folder) / "radicale") as radicale,
    ):
        admin = CoreApi(bases["writer"], tokens["admin"])
        card = make_cards(admin, 1, member["id"])[0]
        todo_urls: dict[str, str] = {}
        for kind in KINDS:
            root = Path(folder) / kind
            root.mkdir()
            notifications = _notifications(root, bases[kind], tokens, kind, smtp.port)
            calendar, todo_urls[kind] = _calendar(root, bases[kind], tokens, member, kind, radicale)
            threads += [
                threading.Thread(target=target, args=(settings, stop), daemon=True)
                for target, settings in (notifications, calendar)
            ]
        for thread in threads:
            thread.start()
        time.sleep(3.0)  # started, caught up, long-polling
        http = requests.Session()
        load_before = os.getloadavg()
        number = 0
        try:
            for round_ in range(rounds):
                for _ in range(changes):
                    number += 1
                    delays = _one_change(
                        admin, card, member["id"], number, mailbox, http, todo_urls
                    )
                    for key, value in delays.items():
                        samples[key].append(value)
                log(
                    f"round {round_ + 1}/{rounds}: "
                    + ", ".join(
                        f"{key} p50 {_percentile(values, 50):.0f} ms"
                        for key, values in samples.items()
                    )
                )
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
            smtp.stop()
    for app in apps.values():
        if listener := app.extensions.get("cardcrm_event_listener"):
            listener.stop()
        app.extensions["cardcrm_db"].dispose()
    summary = {key: _summary(values) for key, values in samples.items()}
    return {
        "dialect": "postgresql",
        "database": display_url(url),
        "code": _code_version(),
        "config": {"rounds": rounds, "changes_per_round": changes},
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": " / ".join(f"{value:.2f}" for value in load_before),
            "load_after": " / ".join(f"{value:.2f}" for value in os.getloadavg()),
        },
        "results": summary,
        "samples_ms": samples,
        "aims": {
            f"change → {PATH_NAMES[path]} p95 with NOTIFY under {AIM_P95_MS:.0f} ms": (
                summary[f"notify_{path}"]["p95_ms"] < AIM_P95_MS
            )
            for path in PATHS
        },
    }


def _one_change(
    admin: CoreApi,
    card: int,
    assignee: int,
    number: int,
    mailbox: Mailbox,
    http: requests.Session,
    todo_urls: dict[str, str],
) -> dict[str, float]:
    """Milliseconds from sending an assignment to each sidecar path having delivered it."""
    started = time.perf_counter()
    task = admin.post(
        f"/api/v1/cards/{card}/tasks",
        {"text": f"Bench task #{number}", "due": "2030-01-01T10:00:00Z", "assignee_id": assignee},
    )
    pending = {f"{kind}_{path}" for kind in KINDS for path in PATHS}
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        for kind in KINDS:
            key = f"{kind}_email"
            if key in pending and (at := mailbox.arrivals.get((f"{kind}@example.com", number))):
                seen[key] = at
                pending.discard(key)
            key = f"{kind}_caldav"
            if key in pending:
                response = http.get(todo_urls[kind] + f"cardcrm-task-{task['id']}.ics")
                if response.status_code == 200:
                    seen[key] = time.perf_counter()
                    pending.discard(key)
        time.sleep(0.005)
    if pending:
        raise SystemExit(f"change {number}: nothing arrived within 30 s for {sorted(pending)}")
    return {key: (at - started) * 1000 for key, at in seen.items()}


def _setup(app: Flask) -> tuple[dict[str, str], dict[str, Any]]:
    with app.app_context():
        session = get_db().session()
        admin = create_user(
            session, email="boss@example.com", name="Boss", password="x" * 12, is_admin=True
        )
        member = create_user(
            session, email="ana@example.com", name="Ana", password="x" * 12, timezone="UTC"
        )
        tokens = {
            "admin": create_token(session, user=admin)[0],
            "member": create_token(session, user=member)[0],
            "service": create_token(session, service="bench")[0],
        }
        found = {"id": member.id, "name": member.name, "email": member.email, "timezone": "UTC"}
        session.close()
    return tokens, found


def _notifications(
    root: Path, base: str, tokens: dict[str, str], kind: str, smtp_port: int
) -> tuple[Any, dict[str, Any]]:
    """The notifications worker's run and settings, following ``base``; the member has asked
    for e-mail on assignments."""
    from cardcrm.notifications import create_app as notifications_app
    from cardcrm.notifications.config import from_env
    from cardcrm.notifications.migrate import upgrade
    from cardcrm.notifications.worker import run as run_worker

    env = {
        "CARDCRM_NOTIFICATIONS_DATABASE_URL": f"sqlite:///{root / 'notifications.db'}",
        "CARDCRM_CORE_URL": base,
        "CARDCRM_SERVICE_TOKEN": tokens["service"],
        "CARDCRM_SECRET_KEY": SECRET,
        "CARDCRM_PUBLIC_URL": "https://crm.example.com",
        "CARDCRM_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?from={kind}@example.com",
    }
    settings = {
        **from_env(env, data=str(root)),
        "PLUGIN_ENTRY_POINTS": False,
        # The SMTP server listens on loopback, which the outbound guard refuses unless allowed.
        "OUTBOUND_ALLOW": "127.0.0.1",
    }
    upgrade(settings["DATABASE_URL"])
    app = notifications_app(settings)
    response = app.test_client().patch(
        "/api/v1/preferences",
        json={"email": "ana@example.com", "assigned": True},
        headers={"Authorization": f"Bearer {tokens['member']}"},
    )
    assert response.status_code == 200, response.get_json()
    app.extensions["cardcrm_notifications"].close()
    return run_worker, settings


def _calendar(
    root: Path,
    base: str,
    tokens: dict[str, str],
    member: dict[str, Any],
    kind: str,
    radicale: Any,
) -> tuple[tuple[Any, dict[str, Any]], str]:
    """The calendar sync worker's run and settings, following ``base``, with a CalDAV account
    of the member on Radicale (user ``kind``); and the URL of its calendar."""
    from cardcrm.calendar_sync import create_app as calendar_app
    from cardcrm.calendar_sync import worker
    from cardcrm.calendar_sync.accounts import add_account
    from cardcrm.calendar_sync.migrate import upgrade

    settings = {
        "DATABASE_URL": f"sqlite:///{root / 'calendar.db'}",
        "CORE_URL": base,
        "CORE_PUBLIC_URL": "https://crm.example.com",
        "SERVICE_TOKEN": tokens["service"],
        "SECRET_KEY": SECRET,
        "PUBLIC_URL": "https://crm.example.com/calendar",
        "PULL_SECONDS": 3600,
        # Radicale listens on loopback, which the outbound guard refuses unless allowed.
        "OUTBOUND_ALLOW": "127.0.0.1",
    }
    upgrade(settings["DATABASE_URL"])
    app = calendar_app(settings)
    context = app.extensions["calendar_sync"]
    context.follower().catch_up()
    with context.database.session() as session:
        body = {"url": radicale.url, "username": kind, "password": "x"}
        account = add_account(session, context, member, body)
        calendar_url = account.calendar_url
    context.close()
    calendar_url = calendar_url if calendar_url.endswith("/") else calendar_url + "/"
    return (worker.run, settings), calendar_url


def table(results: dict[str, Any], name: str = "") -> str:
    """The results as a Markdown table (what ``--docs`` writes)."""
    config, machine = results["config"], results["machine"]
    labels = {
        "notify_email": "change → e-mail, sidecar follows an instance woken by `NOTIFY`",
        "poll_email": "change → e-mail, the fallback (0.5 s look at the database)",
        "notify_caldav": "change → to-do in Radicale, woken by `NOTIFY`",
        "poll_caldav": "change → to-do in Radicale, the fallback",
    }
    lines = [
        f"`{name}`" if name else "",
        "",
        f"PostgreSQL, three core apps with their own engines on one database, served by "
        f"threaded werkzeug on loopback; the write through one, two pairs of sidecar workers "
        f"(notifications and calendar sync, threads) following the other two; "
        f"{config['rounds']} rounds of {config['changes_per_round']} task assignments, each "
        f"measured on both pairs; code `{results['code']}`, {machine['cpus']} CPUs, load "
        f"average {machine['load_before']} before and {machine['load_after']} after.",
        "",
        "| path | n | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    return latency_table(lines, {label: key for key, label in labels.items()}, results)


def main(argv: list[str] | None = None) -> int:
    return latency_main(
        argv, "sidecar-latency", "bench_cardcrm_sidecars", 20, "changes per round", run, table
    )


if __name__ == "__main__":
    sys.exit(main())
