"""Benchmark of reading the event feed: ``GET /api/v1/events?after=N&limit=1000``.

``python -m bench.events --url URL`` on a database made by ``python -m bench generate``.

A reader with a service token reads the first 100,000 events from the start (``after=0``),
page after page, each time passing the page's ``last_id`` as the next ``after``, like a
sidecar catching up. Reported in events per second (the issue's aim: over 20,000/s):

- through the Flask app's test client (routing, token check, query, marshmallow, JSON);
- over real HTTP against ``cardcrm serve core`` (gunicorn, 2 workers) started as a
  subprocess on a free port, with ``requests`` and one kept-alive connection;
- the floor: the statement the app sends, on a raw DBAPI cursor, with the same pages.

Each reading is repeated (``--repeat``); the first of each kind also warms the caches.
``--try plain_feed`` / ``--try raw_feed`` read once more through the test client with a
changed view (``plain_feed_view``, the proposed fix), after checking that it answers the
same bytes as the app.
"""

from __future__ import annotations

import argparse
import json as stdlib_json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from cardcrm.common.api import JSON_MIMETYPE
from cardcrm.common.db import get_db, write_transaction
from cardcrm.common.timeutil import isoformat_z
from cardcrm.core import create_app
from cardcrm.core.auth.models import ApiToken
from cardcrm.core.auth.service import authenticate, create_token
from cardcrm.core.events.outbox import Event
from cardcrm.core.events.views import EventArgsSchema
from cardcrm.core.migrate import upgrade
from flask import Flask, Response, current_app, request
from sqlalchemy import Text, cast, delete, func, select

from . import report
from .cards import Floor, StatementLog, _short
from .database import DEFAULT_SQLITE_URL, dialect_of, display_url, read_marker
from .timing import load_average

AIM_PER_SECOND = 20_000
CARDCRM = Path(sys.executable).with_name("cardcrm")
ENDPOINT = "events.list_events"
TRIALS = ("plain_feed", "raw_feed")


def run(
    url: str,
    events: int = 100_000,
    limit: int = 1000,
    repeat: int = 3,
    http: bool = True,
    trials: tuple[str, ...] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Read ``events`` events from the start of the feed at ``url``; returns the results.

    ``trials``: ``"plain_feed"`` and/or ``"raw_feed"``, the view changes tried (see
    ``plain_feed``), read through the test client after the app as it is.
    """
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"})
    database = app.extensions["cardcrm_db"]
    statements = StatementLog(database.engine)
    token, token_id, stored = _setup(app, url, events)
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": (read_marker(url) or {}).get("counts", {}),
        "events_in_database": stored,
        "events": events,
        "limit": limit,
        "repeat": repeat,
        "machine": {"cpus": os.cpu_count(), "load_before": load_average()},
        "readings": {},
    }
    floor = Floor(url, 0)  # its raw cursor
    try:
        results["server"] = floor.server_version()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def test_client_page(after: int) -> dict[str, Any]:
            response = client.get(f"/api/v1/events?after={after}&limit={limit}", headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"GET /api/v1/events: {response.status_code}")
            return response.get_json()

        with statements.capture() as sent:
            first = test_client_page(0)
        results["statements"] = [_short(statement) for statement, _ in sent]
        results["response_bytes_first_page"] = len(
            client.get(f"/api/v1/events?after=0&limit={limit}", headers=headers).get_data()
        )
        feed = _feed_statement(sent)
        originals = {
            after: client.get(f"/api/v1/events?after={after}&limit={limit}", headers=headers)
            for after in (0, events // 2, events - limit)
        }
        results["first_ids"] = [item["id"] for item in first["items"][:3]]

        log(f"  reading {events:,} events through the test client ...")
        results["readings"]["test_client"] = _repeat(
            lambda: _read(test_client_page, events), repeat
        )
        log(f"  reading {events:,} events with bare SQL ...")
        results["readings"]["floor"] = _repeat(
            lambda: _read(lambda after: _floor_page(floor, feed, after, limit), events), repeat
        )
        if http:
            with (
                tempfile.TemporaryDirectory(prefix="bench-events-") as folder,
                core_server(url, Path(folder)) as base,
            ):
                session = requests.Session()
                session.headers["Authorization"] = f"Bearer {token}"

                def http_page(after: int) -> dict[str, Any]:
                    response = session.get(
                        f"{base}/api/v1/events", params={"after": after, "limit": limit}
                    )
                    response.raise_for_status()
                    return response.json()

                log(f"  reading {events:,} events over HTTP ({base}) ...")
                results["readings"]["http"] = _repeat(lambda: _read(http_page, events), repeat)
                session.close()
        for variant in trials:
            with plain_feed(app, raw_data=variant == "raw_feed"):
                _same_pages(client, headers, originals)
                log(f"  reading {events:,} events through the test client, {variant} ...")
                results["readings"][variant] = _repeat(
                    lambda: _read(test_client_page, events), repeat
                )
    finally:
        floor.close()
        _forget_token(app, token_id)
        database.dispose()
    results["machine"]["load_after"] = load_average()
    return results


def _setup(app: Flask, url: str, events: int) -> tuple[str, int, int]:
    """A service token, and the number of events stored (there must be enough)."""
    with app.app_context():
        session = get_db().session()
        try:
            stored = session.scalar(select(func.count(Event.id))) or 0
            if stored < events:
                raise SystemExit(
                    f"{display_url(url)} holds {stored:,} events, fewer than {events:,}: "
                    "run python -m bench generate"
                )
            token, row = create_token(session, service="bench", name="bench.events")
            return token, row.id, stored
        finally:
            session.close()


def _forget_token(app: Flask, token_id: int) -> None:
    with app.app_context():
        session = get_db().session()
        try:
            with write_transaction(session):
                session.execute(delete(ApiToken).where(ApiToken.id == token_id))
        finally:
            session.close()


# --- reading ----------------------------------------------------------------------------------


def _read(page: Callable[[int], dict[str, Any]], events: int) -> dict[str, Any]:
    """Follow the feed from the start until ``events`` events are read; checks their order."""
    after, read, pages, page_ms = 0, 0, 0, []
    started, cpu_started = time.perf_counter(), time.process_time()
    while read < events:
        before = time.perf_counter()
        body = page(after)
        page_ms.append((time.perf_counter() - before) * 1000)
        items = body["items"]
        if not items:
            raise RuntimeError(f"the feed ended after {read:,} events")
        ids = [item["id"] for item in items]
        if ids[0] <= after or any(a >= b for a, b in zip(ids, ids[1:], strict=False)):
            raise RuntimeError(f"events out of order after id {after}")
        read += len(items)
        pages += 1
        after = body["last_id"]
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return {
        "events": read,
        "pages": pages,
        "last_id": after,
        "seconds": round(seconds, 3),
        "events_per_second": round(read / seconds),
        # This process's CPU time: the app's too with the test client, the client's alone
        # over HTTP. On a busy machine, events per CPU second hint at the quiet figure.
        "cpu_seconds": round(cpu_seconds, 3),
        "events_per_cpu_second": round(read / cpu_seconds) if cpu_seconds else None,
        "page_median_ms": round(statistics.median(page_ms), 2),
        "page_p95_ms": round(statistics.quantiles(page_ms, n=20, method="inclusive")[18], 2),
    }


def _repeat(reading: Callable[[], dict[str, Any]], repeat: int) -> dict[str, Any]:
    runs = [reading() for _ in range(repeat)]
    rates = [run["events_per_second"] for run in runs]
    return {
        "runs": runs,
        "median_events_per_second": round(statistics.median(rates)),
        "best_events_per_second": max(rates),
        "median_events_per_cpu_second": round(
            statistics.median(run["events_per_cpu_second"] or 0 for run in runs)
        ),
    }


def _feed_statement(sent: list[tuple[str, Any]]) -> tuple[str, Any]:
    """The statement the app sent for a page of events, and its parameters."""
    for statement, parameters in sent:
        if "FROM events" in statement and "ORDER BY" in statement:
            return statement, parameters
    raise RuntimeError("the events request sent no query of the events table")


def _floor_page(floor: Floor, feed: tuple[str, Any], after: int, limit: int) -> dict[str, Any]:
    """The app's statement with ``after`` in place of its first parameter, on a raw cursor."""
    statement, parameters = feed
    if isinstance(parameters, dict):  # psycopg: named, the id's as id_1
        parameters = {**parameters, "id_1": after}
    else:  # sqlite3: (after, limit, offset)
        parameters = (after, *parameters[1:])
    floor.cursor.execute(statement, parameters)
    rows = floor.cursor.fetchall()
    if len(rows) != limit:
        raise RuntimeError(f"the floor read {len(rows)} events after {after}, not {limit}")
    return {"items": [{"id": row[0]} for row in rows], "last_id": rows[-1][0]}


# --- the changes tried ------------------------------------------------------------------------


@contextmanager
def plain_feed(app: Flask, *, raw_data: bool) -> Iterator[None]:
    """The app's ``GET /api/v1/events`` answered by ``plain_feed_view`` for the block."""
    original = app.view_functions[ENDPOINT]
    app.view_functions[ENDPOINT] = plain_feed_view(raw_data)
    try:
        yield
    finally:
        app.view_functions[ENDPOINT] = original


def plain_feed_view(raw_data: bool) -> Callable[[], Response]:
    """``events.views.list_events`` on plain rows: the change proposed for the app, timed here.

    The same statement, but selecting columns instead of ``Event`` entities, and the answer
    written as JSON at once instead of ``Event.as_dict`` and a marshmallow
    ``EventPageSchema.dump``. With ``raw_data``, ``data`` is also selected as the JSON text
    it is stored as and put into the answer as it is (no ``json.loads`` and ``json.dumps`` of
    each payload). No long-poll: ``wait`` must be 0. ``_same_pages`` checks the answers
    against the app's, byte for byte.
    """
    schema = EventArgsSchema()

    def list_events() -> Response:
        authenticate("events")
        args = schema.load({key: request.args[key] for key in schema.fields if key in request.args})
        if args["wait"]:
            raise NotImplementedError("the plain feed of the benchmark does not long-poll")
        data = cast(Event.data, Text) if raw_data else Event.data
        session = get_db().session()
        try:
            rows = session.execute(
                select(Event.id, Event.type, Event.at, Event.actor_id, data)
                .where(Event.id > args["after"])
                .order_by(Event.id)
                .limit(args["limit"])
            ).all()
        finally:
            session.close()
        last_id = rows[-1][0] if rows else args["after"]
        if raw_data:
            dumps = stdlib_json.dumps
            items = ", ".join(
                f'{{"id": {id_}, "type": {dumps(type_)}, "at": {dumps(isoformat_z(at))}, '
                f'"actor_id": {dumps(actor_id)}, "data": {text}}}'
                for id_, type_, at, actor_id, text in rows
            )
            body = f'{{"items": [{items}], "last_id": {last_id}}}'
        else:
            items = [
                {"id": id_, "type": type_, "at": isoformat_z(at), "actor_id": actor, "data": value}
                for id_, type_, at, actor, value in rows
            ]
            body = current_app.json.dumps({"items": items, "last_id": last_id})
        return Response(body, mimetype=JSON_MIMETYPE)

    return list_events


def _same_pages(client: Any, headers: dict[str, str], originals: dict[int, Any]) -> None:
    for after, original in originals.items():
        path = f"/api/v1/events?after={after}&limit={len(original.get_json()['items'])}"
        answer = client.get(path, headers=headers)
        if answer.get_data() != original.get_data() or answer.mimetype != original.mimetype:
            raise RuntimeError(f"the plain feed answers {path} differently from the app")


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def core_server(url: str, folder: Path) -> Iterator[str]:
    """``cardcrm serve core --workers 2`` on a free port until the block ends; yields its URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(
        CARDCRM_DATABASE_URL=url,
        CARDCRM_DATA_DIR=str(folder),
        CARDCRM_SECRET_KEY="bench-events-secret-key-0123456789",
    )
    command = [str(CARDCRM), "serve", "core", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "2"]
    log_path = folder / "server.log"
    with log_path.open("ab") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"`cardcrm serve core` did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- printing ---------------------------------------------------------------------------------

READINGS = {
    "test_client": "Flask test client",
    "http": "HTTP, cardcrm serve core (2 workers)",
    "floor": "floor: bare SQL, raw DBAPI cursor",
    "plain_feed": "test client, plain_feed_view (columns)",
    "raw_feed": "test client, plain_feed_view (raw data)",
}


def table(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"Event feed benchmark on {results['server']}: {results['database']}",
        f"{results['events']:,} of {results['events_in_database']:,} events from the start, "
        f"limit={results['limit']} (first page {results['response_bytes_first_page']:,} bytes), "
        f"each reading {results['repeat']} times",
        f"{machine['cpus']} CPUs, load average {machine['load_before']} before, "
        f"{machine['load_after']} after",
        "",
        f"{'reading':<40}{'events/s (each run)':>28}{'median':>9}{'per CPU s':>11}"
        f"{'page med ms':>13}{'page p95 ms':>13}",
    ]
    for name, reading in results["readings"].items():
        each = ", ".join(f"{run['events_per_second']:,}" for run in reading["runs"])
        last = reading["runs"][-1]
        lines.append(
            f"{READINGS.get(name, name):<40}{each:>28}{reading['median_events_per_second']:>9,}"
            f"{reading['median_events_per_cpu_second']:>11,}"
            f"{last['page_median_ms']:>13.2f}{last['page_p95_ms']:>13.2f}"
        )
    lines += [
        "per CPU s: events per second of this process's CPU time (with the test client, the app's"
        " work too; over HTTP, the client's only)",
        "",
        "statements per page request:",
    ]
    lines += [f"    {statement}" for statement in results["statements"]]
    lines.append("")
    for name in ("test_client", "http"):
        if name in results["readings"]:
            rate = results["readings"][name]["median_events_per_second"]
            ok = rate > AIM_PER_SECOND
            lines.append(
                f"aim: over {AIM_PER_SECOND:,} events/s ({READINGS[name]}): {'yes' if ok else 'NO'}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.events", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default=DEFAULT_SQLITE_URL, help="a generated database")
    parser.add_argument("--events", type=int, default=100_000, help="events to read")
    parser.add_argument("--limit", type=int, default=1000, help="events per page (at most 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="readings of each kind")
    parser.add_argument("--no-http", action="store_true", help="skip the real HTTP server")
    parser.add_argument(
        "--try",
        dest="trials",
        action="append",
        choices=TRIALS,
        default=[],
        help="also read with this change of the view (plain_feed_view), through the test client",
    )
    args = parser.parse_args(argv)
    upgrade(args.url)  # idempotent: brings an older generated schema to the current one
    print(f"benchmarking the event feed on {display_url(args.url)}")
    results = run(
        args.url,
        args.events,
        args.limit,
        args.repeat,
        http=not args.no_http,
        trials=tuple(args.trials),
    )
    print()
    print(table(results))
    print(f"\nresults: {report.save('events', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
