"""Benchmark of the calendar sync service: ``python -m bench.calendar [--tasks 5000]``.

Measures, for one user with ``--tasks`` open tasks (5,000 by default):

- catching up the mirror from core's event feed (the worker's follower, over HTTP);
- the iCal feed built cold (no component rendered yet), warm (components kept in the mirror,
  no ``If-None-Match``), and the 304 answer to ``If-None-Match`` (in process and over HTTP);
- Radicale, a peer doing the same job, serving the same to-dos from its own collection cold
  (just started, its item cache deleted) and warm: a ``calendar-query`` REPORT and a GET of
  the whole collection;
- the end-to-end delay from a task change in core to the change on the CalDAV server, with
  the worker running (``worker.run`` in a thread, as under ``cardcrm up``).

Everything runs on SQLite files in a temporary folder; core is served over real HTTP.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

CALENDAR_QUERY = b"""<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter>
  </C:filter>
</C:calendar-query>"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.calendar", description=__doc__)
    parser.add_argument("--tasks", type=int, default=5000, help="open tasks of the user")
    parser.add_argument("--changes", type=int, default=20, help="changes timed end to end")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = run(args.tasks, args.changes)
    report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


def run(tasks: int = 5000, changes: int = 20) -> dict[str, Any]:
    figures: dict[str, Any] = {"tasks": tasks}
    with tempfile.TemporaryDirectory(prefix="cardcrm-bench-calendar-") as folder:
        root = Path(folder)
        with core_service(root) as core:
            started = time.perf_counter()
            user = core.fill(tasks)
            figures["core_fill_s"] = time.perf_counter() - started
            with calendar_service(root, core) as calendar:
                figures.update(bench_mirror(calendar))
                figures.update(bench_feed(calendar, user))
                body = figures.pop("_todos")
                with radicale_server(root / "radicale") as radicale:
                    figures.update(bench_radicale(radicale, body))
                    figures.update(bench_end_to_end(core, calendar, radicale, changes))
    return figures


# --- core -------------------------------------------------------------------------------------


class Core:
    def __init__(self, app: Any, url: str, service_token: str) -> None:
        self.app, self.url, self.service_token = app, url, service_token

    def session(self) -> Any:
        from cardcrm.common.db import get_db

        return get_db().session()

    def fill(self, tasks: int) -> dict[str, Any]:
        """A user with ``tasks`` open tasks on 100 cards, made by core's own service functions."""
        from cardcrm.core.auth.service import create_user
        from cardcrm.core.cards.service import create_card
        from cardcrm.core.products.members import set_members
        from cardcrm.core.products.service import create_product
        from cardcrm.core.tasks.service import create_task

        with self.app.app_context():
            session = self.session()
            user = create_user(
                session,
                email="bench@example.com",
                name="Bench",
                password="bench-password",
                timezone="Europe/Berlin",
            )
            product = create_product(session, user, {"name": "Sales", "template": "sales"})
            set_members(session, product.id, [{"user_id": user.id, "own_cards_only": False}])
            self.product_id, self.user_id = product.id, user.id
            cards = [
                create_card(session, user, product.id, {"title": f"Deal {n}: {n * 3} chairs"})
                for n in range(100)
            ]
            start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
            for n in range(tasks):
                due: Any = start + timedelta(hours=n)
                all_day = n % 5 == 0
                if all_day:
                    due = due.date()
                create_task(
                    session,
                    user,
                    cards[n % len(cards)].id,
                    {"text": f"Call customer {n}", "due": due, "all_day": all_day},
                )
            result = {"id": user.id, "name": user.name, "email": user.email}
            result["timezone"] = user.timezone
            self.card_ids = [card.id for card in cards]
            self.user = user
            session.close()
        return result

    def new_user_with_tasks(self, count: int) -> tuple[dict[str, Any], list[int]]:
        from cardcrm.core.auth.service import create_user
        from cardcrm.core.products.members import set_members
        from cardcrm.core.tasks.service import create_task

        with self.app.app_context():
            session = self.session()
            user = create_user(
                session, email="e2e@example.com", name="E2E", password="e2e-password"
            )
            members = [{"user_id": self.user_id}, {"user_id": user.id}]
            set_members(session, self.product_id, members)
            start = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
            ids = [
                create_task(
                    session,
                    user,
                    self.card_ids[0],
                    {"text": f"E2E {n}", "due": start + timedelta(hours=n)},
                ).id
                for n in range(count)
            ]
            session.close()
        return {"id": user.id, "name": user.name, "email": user.email, "timezone": "UTC"}, ids

    def postpone(self, user_id: int, task_id: int, due: datetime) -> None:
        from cardcrm.core.auth.models import User
        from cardcrm.core.tasks.service import postpone_task

        with self.app.app_context():
            session = self.session()
            postpone_task(session, session.get(User, user_id), task_id, due, None)
            session.close()


@contextmanager
def core_service(root: Path) -> Iterator[Core]:
    from cardcrm.common.db import get_db
    from cardcrm.core import create_app
    from cardcrm.core.auth.service import create_token
    from cardcrm.core.migrate import upgrade
    from werkzeug.serving import make_server

    url = f"sqlite:///{root / 'core.db'}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DATA_DIR": str(root)})
    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="bench")
        session.close()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Core(app, f"http://127.0.0.1:{port}", token)
    finally:
        server.shutdown()
        server.server_close()


# --- the calendar sync service ----------------------------------------------------------------


@contextmanager
def calendar_service(root: Path, core: Core) -> Iterator[Any]:
    from cardcrm.calendar_sync import create_app
    from cardcrm.calendar_sync.migrate import upgrade

    url = f"sqlite:///{root / 'calendar.db'}"
    upgrade(url)
    settings = {
        "DATABASE_URL": url,
        "CORE_URL": core.url,
        "CORE_PUBLIC_URL": "https://crm.example.com",
        "SERVICE_TOKEN": core.service_token,
        "SECRET_KEY": "bench-calendar-secret-key-0123456789",
        "PUBLIC_URL": "https://crm.example.com/calendar",
        "PULL_SECONDS": 3600,
        # Radicale listens on loopback, which the outbound guard refuses unless allowed.
        "OUTBOUND_ALLOW": "127.0.0.1",
    }
    app = create_app(settings)
    app.settings = settings  # type: ignore[attr-defined]
    try:
        yield app
    finally:
        app.extensions["calendar_sync"].close()


@contextmanager
def served_calendar(settings: dict[str, Any]) -> Iterator[int]:
    """The calendar service under gunicorn (``cardcrm serve calendar``), as in production."""
    import os

    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(
        CARDCRM_CALENDAR_DATABASE_URL=settings["DATABASE_URL"],
        CARDCRM_CORE_URL=settings["CORE_URL"],
        CARDCRM_SERVICE_TOKEN=settings["SERVICE_TOKEN"],
        CARDCRM_SECRET_KEY=settings["SECRET_KEY"],
        CARDCRM_PUBLIC_URL=settings["CORE_PUBLIC_URL"],
        CARDCRM_CALENDAR_PUBLIC_URL=settings["PUBLIC_URL"],
        CARDCRM_DATA_DIR=str(Path(settings["DATABASE_URL"].removeprefix("sqlite:///")).parent),
        CARDCRM_OUTBOUND_ALLOW=settings["OUTBOUND_ALLOW"],
    )
    command = [str(Path(sys.executable).parent / "cardcrm"), "serve", "calendar"]
    command += ["--port", str(port), "--workers", "1", "--threads", "4"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait(lambda: _up(f"http://127.0.0.1:{port}/healthz"), 30)
        yield port
    finally:
        process.terminate()
        process.wait(15)


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def bench_mirror(app: Any) -> dict[str, Any]:
    context = app.extensions["calendar_sync"]
    follower = context.follower(batch=1000)
    started = time.perf_counter()
    events = follower.catch_up()
    return {"mirror_events": events, "mirror_catch_up_s": time.perf_counter() - started}


def bench_feed(app: Any, user: dict[str, Any]) -> dict[str, Any]:
    from cardcrm.calendar_sync.feeds import create_feed
    from cardcrm.calendar_sync.models import FeedRender, MirrorTask
    from sqlalchemy import delete, update

    context = app.extensions["calendar_sync"]
    with context.database.session() as session:
        token = create_feed(session, user, context.clock())
    client = app.test_client()
    path = f"/feeds/{token}.ics"
    figures: dict[str, Any] = {}

    started = time.perf_counter()
    cold = client.get(path)
    figures["feed_cold_s"] = time.perf_counter() - started
    figures["feed_bytes"] = len(cold.data)
    figures["feed_events"] = cold.data.count(b"BEGIN:VEVENT")
    etag = cold.headers["ETag"]

    def forget_etag() -> None:  # a client without If-None-Match, or a new feed version
        with context.database.writer.begin() as session:
            session.execute(delete(FeedRender))

    figures["feed_warm_s"] = timed(lambda: client.get(path), 5, before=forget_etag)
    figures["feed_warm_todos_s"] = timed(lambda: client.get(path + "?format=todos"), 5)
    figures["feed_304_in_process_s"] = timed(
        lambda: client.get(path, headers={"If-None-Match": etag}), 200
    )
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304

    # Over HTTP, as a calendar app polls: `cardcrm serve calendar` (gunicorn), one keep-alive
    # connection, a client that costs next to nothing.
    with served_calendar(app.settings) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def get(headers: dict[str, str]) -> int:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status

        assert get({"If-None-Match": etag}) == 304
        figures["feed_304_http_s"] = timed(lambda: get({"If-None-Match": etag}), 500)
        figures["feed_warm_http_s"] = timed(lambda: get({}), 5, before=forget_etag)
        connection.close()

    def forget_components() -> None:
        with context.database.writer.begin() as session:
            session.execute(update(MirrorTask).values(render_key=None, vevent=None, vtodo=None))
            session.execute(delete(FeedRender))

    figures["feed_cold_again_s"] = timed(lambda: client.get(path), 2, before=forget_components)
    figures["_todos"] = client.get(path + "?format=todos").data
    return figures


# --- Radicale ---------------------------------------------------------------------------------


class Radicale:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.config = folder / "config"
        self.config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            "[auth]\ntype = none\ndelay = 0\n[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("Radicale did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def drop_caches(self) -> None:
        for cache in (self.folder / "collections").rglob(".Radicale.cache"):
            shutil.rmtree(cache)


@contextmanager
def radicale_server(folder: Path) -> Iterator[Radicale]:
    server = Radicale(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def bench_radicale(radicale: Radicale, todos: bytes) -> dict[str, Any]:
    """Radicale serving the same to-dos (uploaded as one calendar) cold and warm."""
    http = requests.Session()
    http.auth = ("peer", "x")
    collection = f"{radicale.url}peer/tasks/"
    made = http.request(
        "MKCALENDAR",
        collection,
        data=b'<?xml version="1.0"?><C:mkcalendar xmlns:C="urn:ietf:params:xml:ns:caldav"/>',
    )
    made.raise_for_status()
    stored = http.put(collection, data=todos, headers={"Content-Type": "text/calendar"})
    stored.raise_for_status()
    figures: dict[str, Any] = {}
    requests_ = {
        "report": lambda http: http.request(
            "REPORT",
            collection,
            data=CALENDAR_QUERY,
            headers={"Depth": "1", "Content-Type": "text/xml"},
        ),
        "get": lambda http: http.get(collection),
    }
    for name, request in requests_.items():
        radicale.stop()
        radicale.drop_caches()
        radicale.start()
        fresh = requests.Session()
        fresh.auth = ("peer", "x")
        started = time.perf_counter()
        response = request(fresh)
        figures[f"radicale_{name}_cold_s"] = time.perf_counter() - started
        response.raise_for_status()
        figures[f"radicale_{name}_bytes"] = len(response.content)
        warm = functools.partial(request, fresh)
        figures[f"radicale_{name}_warm_s"] = timed(warm, 3)
    figures["radicale_todos"] = todos.count(b"BEGIN:VTODO")
    return figures


# --- end to end -------------------------------------------------------------------------------


def bench_end_to_end(core: Core, app: Any, radicale: Radicale, changes: int) -> dict[str, Any]:
    """Delay from a change in core to the changed to-do on the CalDAV server, worker running."""
    from cardcrm.calendar_sync import worker
    from cardcrm.calendar_sync.accounts import add_account, list_accounts
    from cardcrm.calendar_sync.models import RemoteTodo
    from sqlalchemy import select

    context = app.extensions["calendar_sync"]
    user, task_ids = core.new_user_with_tasks(changes)
    follower = context.follower()
    follower.catch_up()
    with context.database.session() as session:
        body = {"url": radicale.url, "username": "e2e", "password": "x"}
        account = add_account(session, context, user, body)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(app.settings, stop), daemon=True)
    started = time.perf_counter()
    thread.start()
    try:
        wait(lambda: _pending(context, user["id"], list_accounts) == 0, 120)
        initial = time.perf_counter() - started
        with context.database.session() as session:
            hrefs = dict(
                session.execute(
                    select(RemoteTodo.task_id, RemoteTodo.href).where(
                        RemoteTodo.account_id == account.id
                    )
                ).all()
            )
        http = requests.Session()
        http.auth = ("e2e", "x")
        delays = []
        for n, task_id in enumerate(task_ids):
            new_due = datetime(2027, 3, 1, 8, 0, tzinfo=UTC) + timedelta(days=n)
            expected = new_due.strftime("DUE:%Y%m%dT%H%M%SZ").encode()
            url = f"http://127.0.0.1:{radicale.port}{hrefs[task_id]}"
            changed = time.perf_counter()
            core.postpone(user["id"], task_id, new_due)
            wait(lambda url=url, expected=expected: expected in http.get(url).content, 30)
            delays.append(time.perf_counter() - changed)
    finally:
        stop.set()
        thread.join(10)
    return {
        "e2e_initial_push_todos": changes,
        "e2e_initial_push_s": initial,
        "e2e_changes": len(delays),
        "e2e_median_s": statistics.median(delays),
        "e2e_max_s": max(delays),
    }


def _pending(context: Any, user_id: int, list_accounts: Callable) -> int:
    with context.database.session() as session:
        return sum(account.pending for account in list_accounts(session, user_id))


# --- helpers ----------------------------------------------------------------------------------


def timed(action: Callable[[], Any], times: int, before: Callable[[], Any] | None = None) -> float:
    """The median time of ``action`` over ``times`` runs (``before`` runs untimed before each)."""
    samples = []
    for _ in range(times):
        if before is not None:
            before()
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def wait(check: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.01)
    raise TimeoutError("the benchmark waited too long")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def report(figures: dict[str, Any]) -> None:
    ms = lambda key: f"{figures[key] * 1000:9.1f} ms"  # noqa: E731
    print(f"\ncalendar sync benchmark: one user with {figures['tasks']:,} open tasks")
    print(f"  core: made the tasks through its service functions  {figures['core_fill_s']:7.1f} s")
    print(
        f"  mirror: caught up {figures['mirror_events']:,} events from core's feed "
        f"{figures['mirror_catch_up_s']:7.1f} s"
    )
    print(f"  feed ({figures['feed_events']:,} events, {figures['feed_bytes'] / 1e6:.1f} MB):")
    print(f"    first request, nothing rendered yet (cold)       {ms('feed_cold_s')}")
    print(f"    cold again (components and ETag forgotten)       {ms('feed_cold_again_s')}")
    print(f"    200, components kept, ETag not known (warm)      {ms('feed_warm_s')}")
    print(f"    200 as to-dos, warm                              {ms('feed_warm_todos_s')}")
    print(f"    304 to If-None-Match, in process                 {ms('feed_304_in_process_s')}")
    print(f"    304 to If-None-Match, over HTTP (gunicorn)       {ms('feed_304_http_s')}")
    print(f"    200 warm, over HTTP (gunicorn)                   {ms('feed_warm_http_s')}")
    print(f"  Radicale, the same {figures['radicale_todos']:,} to-dos in one collection:")
    print(f"    REPORT calendar-query, cold                      {ms('radicale_report_cold_s')}")
    print(f"    REPORT calendar-query, warm                      {ms('radicale_report_warm_s')}")
    print(f"    GET of the collection, cold                      {ms('radicale_get_cold_s')}")
    print(f"    GET of the collection, warm                      {ms('radicale_get_warm_s')}")
    print("  end to end, worker running (change in core -> to-do on the CalDAV server):")
    print(
        f"    initial push of {figures['e2e_initial_push_todos']} to-dos"
        f"                        {ms('e2e_initial_push_s')}"
    )
    label = f"median of {figures['e2e_changes']} postponements"
    print(f"    {label:<49}{ms('e2e_median_s')}")
    print(f"    slowest                                          {ms('e2e_max_s')}")


if __name__ == "__main__":
    sys.exit(main())
