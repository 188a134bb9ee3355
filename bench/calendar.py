"""Benchmark of the calendar sync service: ``python -m bench.calendar [--tasks 5000]``.

For one user with ``--tasks`` open tasks (5,000 by default), made through core's service
functions and caught up into the mirror from core's event feed over HTTP, with the calendar
service under gunicorn (``cardcrm serve calendar``, ``--host``/``--port``) and Radicale (a peer
doing the same job, ``--radicale-port``) holding the same components in its own collections.
Each figure is interleaved with its peer's or floor's (A, B, A, B), for to-dos and events:

- the feed built cold (no component kept, no ETag) / Radicale cold (just started; with
  ``--radicale-uncached`` its item cache deleted too, which takes it minutes here) answering
  a GET of the same collection;
- the feed with its components reused (ETag forgotten) / Radicale warm;
- the 304 to ``If-None-Match`` / ``/healthz`` (one trivial query) of the same server, over HTTP
  and in process;
- then, unless ``--changes 0``, the end-to-end delay from a task change in core to the change
  on the CalDAV server, with the worker running (``worker.run`` in a thread).

With ``--against CHECKOUT`` (another worktree, e.g. main's), a second calendar server runs that
checkout's code on the same database, and the cold build and the 304 are measured on both,
alternated (A, B, A, B): before and after a change, in the same run (``against`` in the figures).

Figures go to ``bench/results/calendar-latest.json`` (medians: ``cold_ms``, ``reused_ms``,
``not_modified_ms``, ``radicale_ms`` under ``todos`` and ``events``; ``--name before`` keeps a
copy as ``calendar-before.json``). Everything runs on SQLite files in a temporary folder.

``--cpu`` measures only the feed's build in process (``feeds.build_feed``: cold, from the
components kept in the mirror, and with one task changed from the build before, each to its
answer; the components it rendered are stored after it, as a served feed stores them once its
answer is sent, and timed apart) in CPU time as well as wall time, on a mirror filled
directly (seconds instead of minutes): on a busy machine, where wall times of two runs do
not compare, CPU times of two versions of the code do (``calendar-cpu-latest.json``).
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.client
import json
import os
import re
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
from urllib.parse import urlsplit

import requests

from .database import RESULTS
from .timing import interleaved, load_average, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.calendar", description=__doc__)
    parser.add_argument("--tasks", type=int, default=5000, help="open tasks of the user")
    parser.add_argument("--runs", type=int, default=5, help="interleaved cold and reused runs")
    parser.add_argument("--polls", type=int, default=300, help="interleaved 304 runs")
    parser.add_argument(
        "--changes", type=int, default=20, help="changes timed end to end (0: none)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="where the calendar service listens")
    parser.add_argument("--port", type=int, default=0, help="its port (0: a free one)")
    parser.add_argument("--radicale-port", type=int, default=0, help="Radicale's (0: a free one)")
    parser.add_argument(
        "--radicale-uncached", action="store_true", help="delete Radicale's cache when cold"
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="only the feed's build in process, in CPU time (mirror filled directly; seconds)",
    )
    parser.add_argument(
        "--against",
        metavar="CHECKOUT",
        help="also serve the feeds with another checkout's code (e.g. main's worktree) on the "
        "same database, alternating with this one's: cold builds and 304s, A, B, A, B",
    )
    parser.add_argument("--name", help="also keep the figures as bench/results/calendar-NAME.json")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.cpu:
        figures = cpu_run(args.tasks, args.runs)
        print(json.dumps({key: figures[key] for key in ("todos", "events")}, indent=2))
        print(f"\nresults: {save(figures, args.name, kind='calendar-cpu')}")
        return 0
    figures = run(
        args.tasks,
        args.changes,
        runs=args.runs,
        polls=args.polls,
        host=args.host,
        port=args.port,
        radicale_port=args.radicale_port,
        radicale_uncached=args.radicale_uncached,
        against=args.against,
    )
    report(figures)
    print(f"\nresults: {save(figures, args.name)}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


def save(figures: dict[str, Any], name: str | None = None, kind: str = "calendar") -> Path:
    """Write the figures as ``<kind>-<time>.json`` and ``<kind>-latest.json`` (and
    ``<kind>-NAME.json``) in ``bench/results/``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(figures, indent=2, default=str) + "\n"
    path = RESULTS / f"{kind}-{stamp}.json"
    for target in (path, RESULTS / f"{kind}-latest.json"):
        target.write_text(text)
    if name:
        (RESULTS / f"{kind}-{name}.json").write_text(text)
    return path


def cpu_run(tasks: int = 5000, runs: int = 5) -> dict[str, Any]:
    """The feed's build alone (``feeds.build_feed``), in process: cold (no component kept)
    and reused, in CPU time (``time.process_time``) as well as wall time. CPU time hardly
    depends on what else the machine runs, so runs of two versions of the code compare even
    on a busy machine. The mirror is filled directly (``mirror.apply_card``/``apply_task``)
    with tasks like ``Core.fill``'s, for an admin user's feed."""
    from types import SimpleNamespace

    from cardcrm.calendar_sync import feeds, mirror
    from cardcrm.calendar_sync.context import CalendarContext
    from cardcrm.calendar_sync.migrate import upgrade
    from cardcrm.calendar_sync.models import MirrorTask
    from sqlalchemy import update

    figures: dict[str, Any] = {
        "tasks": tasks,
        "runs": runs,
        "machine": {"cpus": os.cpu_count(), "load_before": load_average()},
    }
    with tempfile.TemporaryDirectory(prefix="cardcrm-bench-calendar-cpu-") as folder:
        url = f"sqlite:///{Path(folder) / 'calendar.db'}"
        upgrade(url)
        context = CalendarContext.from_settings(
            {
                "DATABASE_URL": url,
                "CORE_PUBLIC_URL": "https://crm.example.com",
                "PUBLIC_URL": "https://crm.example.com/calendar",
                "SECRET_KEY": "bench-calendar-secret-key-0123456789",
            }
        )
        now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        with context.database.writer.begin() as session:
            for n in range(100):
                card = {"id": n + 1, "product_id": 1, "title": f"Deal {n}: {n * 3} chairs"}
                mirror.apply_card(
                    session, {**card, "owner_id": 1, "updated_at": now.isoformat()}, now
                )
            for n in range(tasks):
                due = now + timedelta(hours=n)
                all_day = n % 5 == 0
                snapshot = {
                    "id": n + 1,
                    "card_id": n % 100 + 1,
                    "product_id": 1,
                    "assignee_id": 1,
                    "status": "open",
                    "due": due.isoformat(),
                    "due_date": due.date().isoformat() if all_day else None,
                    "all_day": all_day,
                    "version": 1,
                    "text": f"Call customer {n}",
                    "updated_at": now.isoformat(),
                }
                mirror.apply_task(session, snapshot, now)
        owner = SimpleNamespace(user_id=1, calendar_name="cardcrm tasks (Bench)", timezone="UTC")

        def forget_components() -> None:
            with context.database.writer.begin() as session:
                session.execute(update(MirrorTask).values(render_key=None, vevent=None, vtodo=None))

        stores: dict[str, list[float]] = {"store_wall": [], "store_cpu": []}

        def build(format: str, previous: Any = None) -> tuple[float, float, Any]:
            """The build to its answer; what it leaves to store is stored after, as the served
            feed stores it once its answer is sent (timed apart: ``stores``)."""
            renders: list[Any] = []
            started, cpu = time.perf_counter(), time.process_time()
            with context.database.session() as session:
                built = feeds.build_feed(
                    session,
                    context,
                    owner,
                    format,
                    True,
                    previous=previous,
                    keep=lambda *fresh: renders.append(fresh),
                )
            wall = (time.perf_counter() - started) * 1000
            answered = (time.process_time() - cpu) * 1000
            if renders:
                started, cpu = time.perf_counter(), time.process_time()
                with context.database.writer.begin() as session:
                    for rendered, key, column in renders:
                        feeds.store_renders(session, feeds.renders_of(rendered), key, column)
                stores["store_wall"].append((time.perf_counter() - started) * 1000)
                stores["store_cpu"].append((time.process_time() - cpu) * 1000)
            return wall, answered, built

        def change_one_task(run: int) -> None:
            with context.database.writer.begin() as session:
                task = session.get(MirrorTask, 7)
                assert task is not None
                data = {**task.data, "version": task.version + 1, "text": f"Changed {run}"}
                mirror.apply_task(session, data, now)

        names = ("cold", "reused", "one_changed")
        samples: dict[str, dict[str, list[float]]] = {
            format: {f"{name}_{clock}": [] for name in names for clock in ("wall", "cpu")}
            for format in ("todos", "events")
        }
        for run in range(runs):
            for format, times in samples.items():
                forget_components()
                wall, cpu, cold = build(format)
                times["cold_wall"].append(wall)
                times["cold_cpu"].append(cpu)
                # The components kept in the mirror (the build of a process that kept none).
                wall, cpu, again = build(format)
                assert again.body == cold.body, "a reused build differs from the cold one"
                times["reused_wall"].append(wall)
                times["reused_cpu"].append(cpu)
                # One task changed: the entries of the build before, the changed one rendered.
                change_one_task(run)
                wall, cpu, spliced = build(format, again)
                assert spliced.body == build(format)[2].body, "a spliced build differs"
                times["one_changed_wall"].append(wall)
                times["one_changed_cpu"].append(cpu)
        figures["stored_after_answer_ms"] = {
            f"{name}_ms": round(statistics.median(values), 2)
            for name, values in stores.items()
            if values
        }
        for format, times in samples.items():
            figures[format] = {
                f"{name}_ms": round(statistics.median(values), 2) for name, values in times.items()
            }
            figures[format]["raw_ms"] = {
                name: [round(value, 2) for value in values] for name, values in times.items()
            }
        context.close()
    figures["machine"]["load_after"] = load_average()
    return figures


def run(
    tasks: int = 5000,
    changes: int = 20,
    *,
    runs: int = 5,
    polls: int = 300,
    host: str = "127.0.0.1",
    port: int = 0,
    radicale_port: int = 0,
    radicale_uncached: bool = False,
    against: str | None = None,
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "tasks": tasks,
        "runs": runs,
        "polls": polls,
        "radicale_uncached": radicale_uncached,
        "machine": {"cpus": os.cpu_count(), "load_before": load_average()},
    }
    with tempfile.TemporaryDirectory(prefix="cardcrm-bench-calendar-") as folder:
        root = Path(folder)
        with core_service(root) as core:
            started = time.perf_counter()
            user = core.fill(tasks)
            figures["core_fill_s"] = time.perf_counter() - started
            with calendar_service(root, core) as calendar:
                figures.update(bench_mirror(calendar))
                with (
                    served_calendar(calendar.settings, host, port) as served,
                    radicale_server(root / "radicale", radicale_port) as radicale,
                    hello_server(host) as hello,
                ):
                    figures.update(
                        bench_feeds(
                            calendar,
                            user,
                            served,
                            radicale,
                            runs,
                            polls,
                            radicale_uncached,
                            core=core,
                            hello=hello,
                        )
                    )
                    if against:
                        code = _code_path(Path(against), root)
                        with served_calendar(calendar.settings, host, 0, code) as other:
                            figures["against"] = bench_against(
                                calendar, user, served, other, runs, polls
                            )
                        figures["against"]["code"] = str(Path(against).resolve())
                    if changes:
                        figures.update(bench_end_to_end(core, calendar, radicale, changes))
    figures["machine"]["load_after"] = load_average()
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
def served_calendar(
    settings: dict[str, Any], host: str = "127.0.0.1", port: int = 0, code: str | None = None
) -> Iterator[str]:
    """The calendar service under gunicorn (``cardcrm serve calendar``), as in production, on
    ``host``:``port`` (0: a free port); gives its base URL. With ``code`` (a PYTHONPATH,
    ``_code_path``), another checkout's services."""
    port = port or free_port()
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
    if code is not None:
        env["PYTHONPATH"] = code
    command = [str(Path(sys.executable).parent / "cardcrm"), "serve", "calendar"]
    with _serving(command, host, port, "/healthz", env=env) as base:
        yield base


@contextmanager
def hello_server(host: str = "127.0.0.1") -> Iterator[str]:
    """``bench.hello`` (a bare Flask app) under gunicorn with the calendar service's options
    (one worker, four threads): the framework's floor of any request; gives its base URL."""
    command = [sys.executable, "-m", "bench.hello"]
    with _serving(command, host, free_port(), "/hello", cwd=Path(__file__).parent.parent) as base:
        yield base


@contextmanager
def _serving(command: list[str], host: str, port: int, up: str, **options: Any) -> Iterator[str]:
    """``command`` serving on ``host``:``port`` with one worker of four threads, until done;
    gives its base URL once ``up`` answers."""
    command = [*command, "--host", host, "--port", str(port), "--workers", "1", "--threads", "4"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options
    )
    try:
        base = f"http://{host}:{port}"
        wait(lambda: _up(base + up), 30)
        _SERVERS[base] = process.pid
        yield base
    finally:
        _SERVERS.pop(f"http://{host}:{port}", None)
        process.terminate()
        process.wait(15)


#: The gunicorn master process of each base URL being served (``_serving``).
_SERVERS: dict[str, int] = {}


def server_cpu_ms(base: str) -> float:
    """CPU time (user and system) of the worker processes of the server at ``base`` so far, in
    ms (Linux ``/proc``; to 10 ms). A request's CPU time does not grow with what else the
    machine runs, as its wall time does: on a busy machine it is what compares two servers."""
    master = _SERVERS[base]
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    ticks = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


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


class Client:
    """One keep-alive HTTP connection that costs next to nothing, as a calendar app polls."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        host = parts.hostname or "127.0.0.1"
        self.connection = http.client.HTTPConnection(host, parts.port, timeout=60)
        self.last: tuple[int, bytes, dict[str, str]] = (0, b"", {})

    def get(self, path: str, headers: dict[str, str] | None = None) -> int:
        try:
            self.connection.request("GET", path, headers=headers or {})
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server closed the idle connection (gunicorn keeps one alive a few
            # seconds; a Radicale restart takes longer): a new one, as a client would.
            self.connection.close()
            self.connection.request("GET", path, headers=headers or {})
            response = self.connection.getresponse()
        body = response.read()
        self.last = (response.status, body, dict(response.getheaders()))
        return response.status

    def close(self) -> None:
        self.connection.close()


def bench_feeds(
    app: Any,
    user: dict[str, Any],
    base: str,
    radicale: Radicale,
    runs: int,
    polls: int,
    uncached: bool = False,
    core: Core | None = None,
    hello: str | None = None,
) -> dict[str, Any]:
    """The feed of both formats over HTTP, each timing interleaved with its peer's or floor's:

    - cold (no component kept, no ETag) against Radicale cold (just started; with
      ``uncached`` its item cache deleted too) serving the same components from its own
      collection (a GET of it);
    - reused (components kept, ETag forgotten; nothing changed: the server may answer from
      the bytes it kept) against Radicale warm;
    - with ``core``, one changed: a task postponed through core and the mirror caught up
      (untimed), then the feed asked with the ETag it had (a new version: the server reuses
      the entries of the tasks that did not change);
    - the 304 to ``If-None-Match`` against ``/healthz`` (one trivial query), the floor of a
      request to the same server; and in process (Flask's test client) against the same;
      with ``hello``, against a bare Flask app under gunicorn alike (``bench.hello``).
    """
    from cardcrm.calendar_sync.feeds import create_feed
    from cardcrm.calendar_sync.models import FeedRender, MirrorTask
    from sqlalchemy import delete, select

    context = app.extensions["calendar_sync"]
    with context.database.session() as session:
        token = create_feed(session, user, context.clock())
    paths = {"todos": f"/feeds/{token}.ics?format=todos", "events": f"/feeds/{token}.ics"}

    def forget_etags() -> None:  # a client without If-None-Match, or a new feed version
        with context.database.writer.begin() as session:
            session.execute(delete(FeedRender))

    def forget_components() -> None:
        """Nothing kept anywhere: no component in the mirror, no ETag, and a new feed version
        in which every task changed (its sequence), so that the server, which keeps the
        entries of the feeds it built, has none it may reuse either."""
        _forget_components(context, user["id"])

    client = Client(base)
    bodies: dict[str, bytes] = {}
    for format, path in paths.items():
        assert client.get(path) == 200, client.last
        bodies[format] = client.last[1]
    peer = RadicalePeer(radicale)
    collections = {format: peer.upload(format, body) for format, body in bodies.items()}
    figures: dict[str, Any] = {
        "feed_bytes": {format: len(body) for format, body in bodies.items()},
        "feed_components": {
            "todos": bodies["todos"].count(b"BEGIN:VTODO"),
            "events": bodies["events"].count(b"BEGIN:VEVENT"),
        },
    }
    samples: dict[str, dict[str, list[float]]] = {
        format: {"cold": [], "radicale_cold": [], "reused": [], "radicale": [], "one_changed": []}
        for format in paths
    }
    follower = context.follower()
    with context.database.session() as session:
        changed_task = session.scalar(
            # the first (an all-day one): each postponement moves it a day past every task
            select(MirrorTask.id)
            .where(MirrorTask.assignee_id == user["id"])
            .order_by(MirrorTask.due)
            .limit(1)
        )
    postponements = iter(range(1, 10_000))

    def change_one_task() -> None:
        assert core is not None and changed_task is not None
        due = datetime(2030, 1, 1, 8, 0, tzinfo=UTC) + timedelta(days=next(postponements))
        core.postpone(user["id"], changed_task, due)
        follower.catch_up()

    def timed_ms(client: Client, path: str) -> float:
        started = time.perf_counter()
        client.get(path)
        return (time.perf_counter() - started) * 1000

    for _ in range(runs):
        for format, path in paths.items():
            times = samples[format]
            forget_components()
            client.get("/healthz")  # the connection alive, as a polling client's is
            times["cold"].append(timed_ms(client, path))
            assert client.last[0] == 200 and same_tasks(client.last[1], bodies[format])
            bodies[format] = client.last[1]
            fresh = peer.restart_cold(uncached)
            times["radicale_cold"].append(timed_ms(fresh, collections[format]))
            forget_etags()
            client.get("/healthz")
            times["reused"].append(timed_ms(client, path))
            assert client.last[0] == 200 and client.last[1] == bodies[format], "feed differs"
            times["radicale"].append(timed_ms(fresh, collections[format]))
            fresh.close()
            if core is not None:
                etag = client.last[2]["ETag"]
                change_one_task()
                client.get("/healthz")
                started = time.perf_counter()
                client.get(path, {"If-None-Match": etag})
                times["one_changed"].append((time.perf_counter() - started) * 1000)
                assert client.last[0] == 200 and client.last[2]["ETag"] != etag, "stale feed"
                # The next cold build has the change too (in both formats).
                for name, other in paths.items():
                    client.get(other)
                    bodies[name] = client.last[1]

    in_process = app.test_client()
    for format, path in paths.items():
        client.get(path)
        etag = client.last[2]["ETag"]
        headers = {"If-None-Match": etag}
        assert client.get(path, headers) == 304
        http_304, http_floor = interleaved(
            functools.partial(client.get, path, headers),
            functools.partial(client.get, "/healthz"),
            polls,
            warmup=20,
        )
        assert client.get(path, headers) == 304
        if hello is not None:
            bare = Client(hello)
            http_304_again, hello_floor = interleaved(
                functools.partial(client.get, path, headers),
                functools.partial(bare.get, "/hello"),
                polls,
                warmup=20,
            )
            bare.close()
            samples[format].update(not_modified_vs_hello=http_304_again, hello=hello_floor)
        assert in_process.get(path, headers=headers).status_code == 304
        local_304, local_floor = interleaved(
            functools.partial(in_process.get, path, headers=headers),
            functools.partial(in_process.get, "/healthz"),
            polls,
            warmup=20,
        )
        times = samples[format]
        times.update(
            not_modified=http_304,
            healthz=http_floor,
            not_modified_in_process=local_304,
            healthz_in_process=local_floor,
        )
    client.close()
    for format, times in samples.items():
        result: dict[str, Any] = {
            "cold_ms": statistics.median(times["cold"]),
            "reused_ms": statistics.median(times["reused"]),
            "one_changed_ms": statistics.median(times["one_changed"])
            if times["one_changed"]
            else None,
            "not_modified_ms": statistics.median(times["not_modified"]),
            "not_modified_in_process_ms": statistics.median(times["not_modified_in_process"]),
            "radicale_ms": statistics.median(times["radicale_cold"]),
            "radicale_warm_ms": statistics.median(times["radicale"]),
            "healthz_ms": statistics.median(times["healthz"]),
            "healthz_in_process_ms": statistics.median(times["healthz_in_process"]),
        }
        if times.get("hello"):
            result["hello_ms"] = statistics.median(times["hello"])
            result["not_modified_vs_hello_ms"] = statistics.median(times["not_modified_vs_hello"])
        result["ratios"] = {
            "cold_to_radicale_cold": result["cold_ms"] / result["radicale_ms"],
            "reused_to_radicale_warm": result["reused_ms"] / result["radicale_warm_ms"],
            "not_modified_to_healthz": result["not_modified_ms"] / result["healthz_ms"],
            "not_modified_to_healthz_in_process": result["not_modified_in_process_ms"]
            / result["healthz_in_process_ms"],
        }
        if "hello_ms" in result:
            result["ratios"]["not_modified_to_hello"] = (
                result["not_modified_vs_hello_ms"] / result["hello_ms"]
            )
        result["samples"] = {name: summary(values) for name, values in times.items()}
        result["raw_ms"] = {
            name: [round(value, 2) for value in values]
            for name, values in times.items()
            if len(values) <= 50
        }
        figures[format] = result
    return figures


def bench_against(
    app: Any, user: dict[str, Any], ours: str, theirs: str, runs: int, polls: int
) -> dict[str, Any]:
    """The feeds of this checkout's server (``ours``) and another checkout's (``theirs``, on
    the same database), alternated in each measurement: the cold build (nothing kept, as
    ``bench_feeds``), and the 304 to ``If-None-Match``. Both must serve the same tasks."""
    from cardcrm.calendar_sync.feeds import create_feed

    context = app.extensions["calendar_sync"]
    with context.database.session() as session:
        token = create_feed(session, user, context.clock())
    paths = {"todos": f"/feeds/{token}.ics?format=todos", "events": f"/feeds/{token}.ics"}
    clients = {"ours": Client(ours), "theirs": Client(theirs)}
    figures: dict[str, Any] = {}
    for format, path in paths.items():
        cold: dict[str, list[float]] = {side: [] for side in clients}
        cpu: dict[str, list[float]] = {side: [] for side in clients}
        bodies: dict[str, bytes] = {}
        for _ in range(runs):
            for side, client in clients.items():
                _forget_components(context, user["id"])
                client.get("/healthz")  # the connection alive, as a polling client's is
                base = ours if side == "ours" else theirs
                used, started = server_cpu_ms(base), time.perf_counter()
                client.get(path)
                cold[side].append((time.perf_counter() - started) * 1000)
                cpu[side].append(server_cpu_ms(base) - used)
                assert client.last[0] == 200, client.last[:1]
                bodies[side] = client.last[1]
        assert same_tasks(bodies["ours"], bodies["theirs"]), "the two checkouts' feeds differ"
        headers = {}
        for side, client in clients.items():
            client.get(path)
            headers[side] = {"If-None-Match": client.last[2]["ETag"]}
            assert client.get(path, headers[side]) == 304
        ours_304, theirs_304 = interleaved(
            functools.partial(clients["ours"].get, path, headers["ours"]),
            functools.partial(clients["theirs"].get, path, headers["theirs"]),
            polls,
            warmup=20,
        )
        figures[format] = {
            "cold_ms": statistics.median(cold["ours"]),
            "against_cold_ms": statistics.median(cold["theirs"]),
            "cold_server_cpu_ms": statistics.median(cpu["ours"]),
            "against_cold_server_cpu_ms": statistics.median(cpu["theirs"]),
            "not_modified_ms": statistics.median(ours_304),
            "against_not_modified_ms": statistics.median(theirs_304),
            "raw_ms": {
                **{f"{side}_cold": [round(v, 1) for v in values] for side, values in cold.items()},
                **{f"{side}_cold_cpu": values for side, values in cpu.items()},
            },
        }
        figures[format]["ratios"] = {
            "cold_to_against": figures[format]["cold_ms"] / figures[format]["against_cold_ms"],
            "not_modified_to_against": figures[format]["not_modified_ms"]
            / figures[format]["against_not_modified_ms"],
        }
    for client in clients.values():
        client.close()
    return figures


def _forget_components(context: Any, user_id: int) -> None:
    """Nothing kept anywhere (``bench_feeds``' ``forget_components`` says how)."""
    from cardcrm.calendar_sync.mirror import bump_feeds
    from cardcrm.calendar_sync.models import FeedRender, MirrorTask
    from sqlalchemy import delete, update

    with context.database.writer.begin() as session:
        session.execute(
            update(MirrorTask).values(
                sequence=MirrorTask.sequence + 1, render_key=None, vevent=None, vtodo=None
            )
        )
        session.execute(delete(FeedRender))
        bump_feeds(session, {user_id: context.clock()})


def _code_path(code: Path, folder: Path) -> str:
    """A PYTHONPATH under which ``cardcrm`` (and ``cardcrm_plugins``) are the checkout
    ``code``'s (``bench.csv_import`` does the same)."""
    links = folder / "against"
    links.mkdir()
    (links / "cardcrm").symlink_to(code.resolve() / "services")
    (links / "cardcrm_plugins").symlink_to(code.resolve() / "plugins")
    return str(links)


def same_tasks(body: bytes, reference: bytes) -> bool:
    """Whether two feeds are the same but for their components' ``SEQUENCE`` (which a cold
    run moves on: ``forget_components``)."""
    sequence = re.compile(rb"\r\nSEQUENCE:\d+\r\n")
    return sequence.sub(b"", body) == sequence.sub(b"", reference)


# --- Radicale ---------------------------------------------------------------------------------


class Radicale:
    def __init__(self, folder: Path, port: int = 0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port or free_port()
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
def radicale_server(folder: Path, port: int = 0) -> Iterator[Radicale]:
    server = Radicale(folder, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RadicalePeer:
    """Radicale holding cardcrm's feeds as its own collections (one calendar per format)."""

    def __init__(self, radicale: Radicale) -> None:
        self.radicale = radicale
        self.http = requests.Session()
        self.http.auth = ("peer", "x")

    def upload(self, format: str, body: bytes) -> str:
        """Make a calendar of ``body``'s components; gives its path."""
        path = f"/peer/{format}/"
        made = self.http.request(
            "MKCALENDAR",
            self.radicale.url.rstrip("/") + path,
            data=b'<?xml version="1.0"?><C:mkcalendar xmlns:C="urn:ietf:params:xml:ns:caldav"/>',
        )
        made.raise_for_status()
        stored = self.http.put(
            self.radicale.url.rstrip("/") + path,
            data=body,
            headers={"Content-Type": "text/calendar"},
        )
        stored.raise_for_status()
        return path

    def restart_cold(self, uncached: bool = False) -> Client:
        """Radicale just started (with ``uncached``, its item cache deleted too: minutes for
        5,000 items on this machine), and a new connection to it."""
        self.radicale.stop()
        if uncached:
            self.radicale.drop_caches()
        self.radicale.start()
        return AuthClient(self.radicale.url.rstrip("/"))


class AuthClient(Client):
    """A keep-alive connection to Radicale as the user ``peer``."""

    AUTHORIZATION = "Basic " + base64.b64encode(b"peer:x").decode()

    def get(self, path: str, headers: dict[str, str] | None = None) -> int:
        status = super().get(path, {"Authorization": self.AUTHORIZATION, **(headers or {})})
        if status != 200:
            raise RuntimeError(f"Radicale answered {status}")
        return status


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
            wait(functools.partial(_shows, http, url, expected), 30)
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


def _shows(http: requests.Session, url: str, expected: bytes) -> bool:
    return expected in http.get(url).content


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


#: The issue's aims for the feed of 5,000 tasks (ms).
AIMS = {"cold_ms": 300.0, "reused_ms": 20.0, "one_changed_ms": 20.0, "not_modified_ms": 1.0}


def report(figures: dict[str, Any]) -> None:
    print("\n" + table(figures))


def table(figures: dict[str, Any]) -> str:
    """The figures as text (``report``, and ``python -m bench docs``); also those of ``--cpu``."""
    if "cold_cpu_ms" in figures.get("todos", {}):
        return cpu_table(figures)
    lines: list[str] = []
    machine = figures["machine"]
    lines.append(f"calendar sync benchmark: one user with {figures['tasks']:,} open tasks")
    lines.append(
        f"machine: {machine['cpus']} CPUs, load average {machine['load_before']} before, "
        f"{machine.get('load_after')} after; {figures['runs']} interleaved runs, "
        f"{figures['polls']} polls; medians in ms"
    )
    lines.append(
        f"  core: made the tasks through its service functions  {figures['core_fill_s']:7.1f} s"
    )
    lines.append(
        f"  mirror: caught up {figures['mirror_events']:,} events from core's feed "
        f"{figures['mirror_catch_up_s']:7.1f} s"
    )
    rows = [
        ("cold (nothing kept), over HTTP", "cold_ms"),
        ("Radicale cold (just started)", "radicale_ms"),
        ("reused (nothing changed, no ETag)", "reused_ms"),
        ("one task changed (a new version)", "one_changed_ms"),
        ("Radicale warm", "radicale_warm_ms"),
        ("304 to If-None-Match, over HTTP", "not_modified_ms"),
        ("/healthz over HTTP (floor)", "healthz_ms"),
        ("304 to If-None-Match, in process", "not_modified_in_process_ms"),
        ("/healthz in process (floor)", "healthz_in_process_ms"),
        ("304 (interleaved with the bare hello)", "not_modified_vs_hello_ms"),
        ("bare Flask hello under gunicorn (bench.hello)", "hello_ms"),
    ]
    lines.append(f"  {'':<42}{'to-dos':>10}{'events':>10}")
    for label, key in rows:
        values = [figures[format].get(key) for format in ("todos", "events")]
        lines.append(
            f"  {label:<42}" + "".join(f"{value:>10.2f}" for value in values if value is not None)
        )
    ratios = ("cold_to_radicale_cold", "reused_to_radicale_warm", "not_modified_to_healthz")
    for name in (*ratios, "not_modified_to_hello"):
        values = [figures[format]["ratios"].get(name) for format in ("todos", "events")]
        if None not in values:
            lines.append(f"  ratio {name:<36}{values[0]:>10.2f}{values[1]:>10.2f}")
    if "against" in figures:
        against = figures["against"]
        lines.append(f"  against {against.get('code')} (same database, alternated):")
        for label, key in (
            ("cold, this checkout", "cold_ms"),
            ("cold, the other", "against_cold_ms"),
            ("cold, this checkout: server CPU", "cold_server_cpu_ms"),
            ("cold, the other: server CPU", "against_cold_server_cpu_ms"),
            ("304, this checkout", "not_modified_ms"),
            ("304, the other", "against_not_modified_ms"),
        ):
            values = [against[format][key] for format in ("todos", "events")]
            lines.append(f"    {label:<40}" + "".join(f"{value:>10.2f}" for value in values))
    for key, limit in AIMS.items():
        for format in ("todos", "events"):
            value = figures[format].get(key)
            if value is None:
                continue
            ok = "yes" if value <= limit else "NO"
            lines.append(f"  aim: {format} {key} <= {limit:g}: {ok} ({value:.2f})")
    if "e2e_median_s" in figures:
        ms = lambda key: f"{figures[key] * 1000:9.1f} ms"  # noqa: E731
        lines.append("  end to end, worker running (change in core -> to-do on the CalDAV server):")
        lines.append(
            f"    initial push of {figures['e2e_initial_push_todos']} to-dos"
            f"                        {ms('e2e_initial_push_s')}"
        )
        label = f"median of {figures['e2e_changes']} postponements"
        lines.append(f"    {label:<49}{ms('e2e_median_s')}")
        lines.append(f"    slowest                                          {ms('e2e_max_s')}")
    return "\n".join(lines)


def cpu_table(figures: dict[str, Any]) -> str:
    """``--cpu``'s figures: the feed's build in process, medians of wall and CPU time."""
    machine = figures["machine"]
    lines = [
        f"calendar feed build in process (--cpu): {figures['tasks']:,} tasks, "
        f"{figures['runs']} runs; medians in ms",
        f"machine: {machine['cpus']} CPUs, load average {machine['load_before']} before, "
        f"{machine.get('load_after')} after",
        f"  {'':<34}{'to-dos wall':>12}{'to-dos CPU':>12}{'events wall':>12}{'events CPU':>12}",
    ]
    for label, name in (
        ("cold (nothing kept)", "cold"),
        ("components kept in the mirror", "reused"),
        ("one task changed", "one_changed"),
    ):
        values = [
            figures[format][f"{name}_{clock}_ms"]
            for format in ("todos", "events")
            for clock in ("wall", "cpu")
        ]
        lines.append(f"  {label:<34}" + "".join(f"{value:>12.1f}" for value in values))
    stored = figures.get("stored_after_answer_ms")
    if stored:
        lines.append(
            f"  stored after the answer (components rendered): {stored['store_wall_ms']:.1f} ms "
            f"wall, {stored['store_cpu_ms']:.1f} ms CPU (both formats)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
