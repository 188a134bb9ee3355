"""Benchmark of the notifications worker: ``python -m bench.notifications``.

Core runs as ``cardcrm serve core`` (gunicorn) and the worker as ``cardcrm worker
notifications``, each its own process as in production, on fresh databases in a temporary
folder; a real SMTP server (aiosmtpd) runs in this process with the load generator. Reported:

1. **throughput with an in-app rule**: a backlog of assignments already in the feed, worked
   through by the worker's steps in one thread (following the feed and recording deliveries,
   then writing the inbox), and by the ``cardcrm worker`` process (threads);
2. **e-mail latency**: while a burst of assignments is made through core's API by a few
   clients, the delay from each change (its API call returning: committed) to its e-mail
   arriving at the SMTP server: p50, p95 and max.

SQLite by default; ``--postgres URL`` (or ``CARDCRM_BENCH_POSTGRES_URL``) runs the same on
PostgreSQL, in databases made for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import email.policy
import logging
import multiprocessing
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import requests
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

POSTGRES_VARIABLE = "CARDCRM_BENCH_POSTGRES_URL"
CARDCRM = Path(sys.executable).parent / "cardcrm"
SECRET = "bench-notifications-secret-key-0123456789"


# --- the parts ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Arrivals:
    """An SMTP handler noting when each message arrived (wall clock, comparable across
    processes), by the task number in its subject."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        arrived = time.time()
        headers = BytesParser(policy=email.policy.default).parsebytes(
            envelope.content, headersonly=True
        )
        subject = str(headers["Subject"] or "")
        number = int(subject.rsplit("#", 1)[-1]) if "#" in subject else -1
        self.queue.put((number, arrived))
        return "250 OK"


def smtp_server(port: int, queue: Any, stop: Any) -> None:
    """A real SMTP server in its own process, so that the load generator does not slow it."""
    controller = Controller(Arrivals(queue), hostname="127.0.0.1", port=port)
    controller.start()
    stop.wait()
    controller.stop()


class MailSink:
    """``smtp_server`` in its own process; ``arrivals``: task number → wall-clock time."""

    def __init__(self, port: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.queue, self.stop = context.Queue(), context.Event()
        self.process = context.Process(
            target=smtp_server, args=(port, self.queue, self.stop), daemon=True
        )
        self.port = port
        self.arrivals: dict[int, float] = {}

    def __enter__(self) -> MailSink:
        self.process.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the SMTP server did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.process.join(10)

    def collect(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` messages arrived (or ``timeout``); whether they all did."""
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < count and time.monotonic() < deadline:
            try:
                number, at = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.arrivals[number] = at
        return len(self.arrivals) >= count


@contextmanager
def databases(postgres: str | None, folder: str) -> Iterator[tuple[str, str]]:
    """(core URL, notifications URL), made for this run and removed after it."""
    if not postgres:
        yield f"sqlite:///{folder}/core.db", f"sqlite:///{folder}/notifications.db"
        return
    names = [f"cardcrm_bench_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("core", "notif")]
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    urls = [make_url(postgres).set(database=name).render_as_string(False) for name in names]
    try:
        yield urls[0], urls[1]
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def cardcrm(
    command: str, env: dict[str, str], log: Path, ready: str | None = None
) -> Iterator[None]:
    """``cardcrm COMMAND`` as a process until the block ends; ``ready``: a URL to wait for."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(CARDCRM), *command.split()], env=env, stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + 30
        while ready:
            try:
                if requests.get(ready, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"`cardcrm {command}` did not start; see {log}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(60)


class Bench:
    """The databases, users and tokens, and the environment of the ``cardcrm`` processes."""

    def __init__(self, core_url: str, notifications_url: str, folder: str) -> None:
        from cardcrm.common.db import Database
        from cardcrm.core.auth.service import create_token, create_user
        from cardcrm.core.migrate import upgrade as upgrade_core
        from cardcrm.notifications.migrate import upgrade as upgrade_notifications

        upgrade_core(core_url)
        upgrade_notifications(notifications_url)
        database = Database(core_url)
        session = database.session()
        admin = create_user(
            session, email="boss@example.com", name="Boss", password="x" * 12, is_admin=True
        )
        member = create_user(session, email="ana@example.com", name="Ana", password="x" * 12)
        self.admin_token, _ = create_token(session, user=admin)
        self.member_token, _ = create_token(session, user=member)
        self.service_token, _ = create_token(session, service="bench")
        self.member_id = member.id
        session.close()
        database.dispose()
        self.core_url, self.notifications_url, self.folder = core_url, notifications_url, folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = Path(folder) / "processes.log"

    def env(self, smtp_port: int | None = None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
        env.update(
            CARDCRM_DATA_DIR=self.folder,
            CARDCRM_DATABASE_URL=self.core_url,
            CARDCRM_NOTIFICATIONS_DATABASE_URL=self.notifications_url,
            CARDCRM_CORE_URL=self.base,
            CARDCRM_SERVICE_TOKEN=self.service_token,
            CARDCRM_SECRET_KEY=SECRET,
            CARDCRM_PUBLIC_URL="https://crm.example.com",
        )
        if smtp_port:
            env["CARDCRM_SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}?from=bench@example.com"
        return env

    def settings(self) -> dict[str, Any]:
        """The worker's settings in this process (the steps measurement)."""
        from cardcrm.notifications.config import from_env

        return {**from_env(self.env(), data=self.folder), "PLUGIN_ENTRY_POINTS": False}

    @contextmanager
    def core(self) -> Iterator[None]:
        command = f"serve core --host 127.0.0.1 --port {self.port} --workers 2 --threads 8"
        with cardcrm(command, self.env(), self.log, ready=self.base + "/healthz"):
            yield

    @contextmanager
    def worker(self, smtp_port: int | None = None) -> Iterator[None]:
        with cardcrm("worker notifications", self.env(smtp_port), self.log):
            yield

    def sent(self) -> int:
        from cardcrm.notifications.db import Database
        from cardcrm.notifications.deliveries.models import Delivery

        database = Database(self.notifications_url)
        try:
            with database.sessions() as session:
                query = select(func.count(Delivery.id)).where(Delivery.state == "sent")
                return session.scalar(query) or 0
        finally:
            database.dispose()


class CoreApi:
    """Core's API over HTTP with one user's token (a session per client thread)."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.local = threading.local()
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        response = session.request(
            method, self.base + path, json=body, headers=self.headers, timeout=60
        )
        response.raise_for_status()
        return response.json()


def make_cards(api: CoreApi, count: int, member: int) -> list[int]:
    """Cards of a new product that ``member`` is a member of (so they may see them)."""
    name = f"Bench {uuid.uuid4().hex[:6]}"
    product = api.post("/api/v1/products", {"name": name, "template": "sales"})
    members = {"items": [{"user_id": member, "own_cards_only": False}]}
    api.post(f"/api/v1/products/{product['id']}/members", members, method="PUT")
    return [
        api.post(f"/api/v1/products/{product['id']}/cards", {"title": f"Deal {number}"})["id"]
        for number in range(count)
    ]


def assign_tasks(
    api: CoreApi, cards: list[int], assignee: int, count: int, clients: int
) -> dict[int, float]:
    """Create ``count`` tasks assigned to ``assignee`` from ``clients`` threads; when each call
    returned (the change committed), by task number."""
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    done: dict[int, float] = {}

    def one(number: int) -> None:
        body = {"text": f"Bench task #{number}", "due": due, "assignee_id": assignee}
        api.post(f"/api/v1/cards/{cards[number % len(cards)]}/tasks", body)
        done[number] = time.time()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(count)))
    return done


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- the measurements ----------------------------------------------------------------------------


def steps_throughput(bench: Bench, events: int, clients: int) -> dict[str, Any]:
    """A backlog of ``events`` assignments, worked through by the worker's steps."""
    from cardcrm.notifications.worker import Worker

    worker = Worker(bench.settings())
    try:
        worker.start()  # its first start: what follows is news
        admin = CoreApi(bench.base, bench.admin_token)
        cards = make_cards(admin, 20, bench.member_id)
        assign_tasks(admin, cards, bench.member_id, events, clients)
        started = time.perf_counter()
        handled = worker.follower.catch_up(max_steps=100_000)
        followed = time.perf_counter()
        sent = 0
        while batch := worker.deliver(limit=200):
            sent += batch
        finished = time.perf_counter()
    finally:
        worker.context.close()
    return {
        "events": handled,
        "deliveries": sent,
        "follow_events_per_second": handled / (followed - started),
        "deliveries_per_second": sent / (finished - followed),
        "events_per_second": handled / (finished - started),
    }


def process_throughput(bench: Bench, events: int, clients: int) -> dict[str, Any]:
    """The same, worked through by a ``cardcrm worker notifications`` process."""
    admin = CoreApi(bench.base, bench.admin_token)
    assign_tasks(admin, make_cards(admin, 20, bench.member_id), bench.member_id, events, clients)
    before = bench.sent()
    started = time.perf_counter()
    with bench.worker():
        while bench.sent() - before < events:
            if time.perf_counter() - started > 600:
                raise SystemExit("the worker did not finish within 10 minutes")
            time.sleep(0.05)
        finished = time.perf_counter()
    return {"events": events, "events_per_second": events / (finished - started)}


def email_latency(bench: Bench, events: int, clients: int) -> dict[str, Any]:
    """E-mails for a burst of ``events`` assignments made while the worker runs."""
    from cardcrm.notifications import create_app

    app = create_app(bench.settings())
    response = app.test_client().patch(
        "/api/v1/preferences",
        json={"email": "ana@example.com", "assigned": True},
        headers={"Authorization": f"Bearer {bench.member_token}"},
    )
    assert response.status_code == 200, response.get_json()
    app.extensions["cardcrm_notifications"].close()

    port = free_port()
    admin = CoreApi(bench.base, bench.admin_token)
    cards = make_cards(admin, 20, bench.member_id)
    with MailSink(port) as sink, bench.worker(smtp_port=port):
        time.sleep(3.0)  # started, caught up, long-polling
        started = time.perf_counter()
        committed = assign_tasks(admin, cards, bench.member_id, events, clients)
        burst = time.perf_counter() - started
        if not sink.collect(events, timeout=300):
            raise SystemExit(f"only {len(sink.arrivals)} of {events} e-mails arrived")
    order = sorted(committed, key=committed.__getitem__)
    delays = [sink.arrivals[number] - committed[number] for number in order]
    tenth = max(1, len(delays) // 10)
    return {
        # the mean delay of each tenth of the burst: flat when the worker keeps up
        "by_tenth_seconds": [
            round(statistics.fmean(delays[start : start + tenth]), 2)
            for start in range(0, len(delays), tenth)
        ],
        "events": events,
        "clients": clients,
        "burst_seconds": burst,
        "changes_per_second": events / burst,
        "p50_seconds": percentile(delays, 0.50),
        "p95_seconds": percentile(delays, 0.95),
        "max_seconds": max(delays),
    }


def run(
    backend: str, postgres: str | None, events: int, clients: int, measure: str = "all"
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="cardcrm-bench-notifications-") as folder,
        databases(postgres, folder) as (core_url, notifications_url),
    ):
        bench = Bench(core_url, notifications_url, folder)
        with bench.core():
            results: dict[str, Any] = {"backend": backend}
            if measure in ("all", "throughput"):
                results["steps"] = steps_throughput(bench, events, clients)
                results["process"] = process_throughput(bench, events, clients)
            if measure in ("all", "latency"):
                results["latency"] = email_latency(bench, events, clients)
            return results


def report(results: dict[str, Any]) -> str:
    lines = [f"notifications on {results['backend']} (core: `cardcrm serve core`, 2 workers)"]
    if "steps" in results:
        steps, process = results["steps"], results["process"]
        lines += [
            f"  in-app rule, a backlog of {steps['events']} events, the worker's steps in one "
            "thread:",
            f"    following the feed  {steps['follow_events_per_second']:7.0f} events/s",
            f"    writing the inbox   {steps['deliveries_per_second']:7.0f} deliveries/s",
            f"    end to end          {steps['events_per_second']:7.0f} events/s",
            f"  in-app rule, `cardcrm worker notifications` process: "
            f"{process['events_per_second']:.0f} events/s (start-up included)",
        ]
    if "latency" in results:
        latency = results["latency"]
        lines += [
            f"  e-mail latency, a burst of {latency['events']} changes from "
            f"{latency['clients']} clients ({latency['changes_per_second']:.0f}/s for "
            f"{latency['burst_seconds']:.1f} s):",
            f"    p50 {latency['p50_seconds']:.3f} s   p95 {latency['p95_seconds']:.3f} s   "
            f"max {latency['max_seconds']:.3f} s",
            f"    mean delay by tenth of the burst: {latency['by_tenth_seconds']}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications", description=__doc__)
    parser.add_argument("--events", type=int, default=1000, help="events per measurement")
    parser.add_argument("--clients", type=int, default=4, help="clients making the changes")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(POSTGRES_VARIABLE),
        help=f"also run on PostgreSQL at this server URL (default: ${POSTGRES_VARIABLE})",
    )
    parser.add_argument(
        "--measure", choices=("all", "throughput", "latency"), default="all", help="what to run"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    runs = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    for backend, postgres in runs:
        results = run(backend, postgres, args.events, args.clients, args.measure)
        print(report(results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
