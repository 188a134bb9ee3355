"""Benchmark of the Today view's API (``GET /api/v1/today``) for the user with the most tasks.

``python -m bench.today --url URL`` on a database made by ``python -m bench generate``.

Two periods are timed through the real Flask app (test client, bearer token: routing, token
check, membership scope, queries, marshmallow, JSON): the default one (today in the user's
time zone) and the week starting today (``from`` = today, ``to`` = today + 6 days). Next to
each, the *floor*: the statements the app sends for the four totals and the first page of
tasks, captured with a ``before_cursor_execute`` listener and run with the same parameters on
a raw DBAPI cursor. Also reported: this process's CPU time per request (a hint of the quiet
machine's figure when the machine is busy), the statements a request sends, the query plans
of the four, and with ``--profile`` where the request's time goes (pyinstrument).

``--try-index`` creates ``CANDIDATE_INDEX`` on the database, times everything again and drops
the index afterwards (also when the run fails). ``--try-plain-page`` times again with
``plain_task_page`` in place of ``today.task_page`` (after the index when both are given).
Every variant must answer the same bytes as the app as it is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cardcrm.common.db import get_db, make_engine, write_transaction
from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.timeutil import isoformat_z
from cardcrm.core import create_app
from cardcrm.core import today as view
from cardcrm.core.access import scope_of
from cardcrm.core.auth.models import ApiToken, User
from cardcrm.core.auth.service import create_token
from cardcrm.core.cards.models import Card
from cardcrm.core.migrate import upgrade
from cardcrm.core.products.models import Product, Status
from cardcrm.core.tasks import today as rules
from cardcrm.core.tasks.models import Task
from cardcrm.core.tasks.schemas import TaskSchema
from flask import Flask
from sqlalchemy import and_, delete, func, or_, select, text
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from . import report
from .cards import Floor, StatementLog, _short, measure
from .database import DEFAULT_SQLITE_URL, dialect_of, display_url, read_marker
from .timing import load_average

#: The issue's aims for the Today view.
AIM_MS = 20.0
AIM_RATIO = 2.0
PATH = "/api/v1/today"
WEEK_DAYS = 7
#: The index tried by ``--try-index``: the one the view's open-task statements range over,
#: widened so that their filters (trash, product, all-day date) are read from the index, and
#: with ``id`` so that its order is still ``ORDER BY due, id``.
CANDIDATE_INDEX = (
    "ix_tasks_bench_assignee_status_due_cover",
    "tasks",
    "assignee_id, status, due, id, card_trashed, product_id, all_day, due_date",
)
#: The four statements of the floor, by what they compute.
PARTS = ("open_totals", "closed", "postponed", "page")


def run(
    url: str,
    runs: int = 200,
    warmup: int = 20,
    *,
    profile: bool = False,
    try_index: bool = False,
    try_plain_page: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Time the Today view on the generated database at ``url``; returns the results.

    ``try_index`` and ``try_plain_page`` time it again with ``CANDIDATE_INDEX`` and with
    ``plain_task_page`` (the plain page after the index when both are asked).
    """
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"})
    database = app.extensions["cardcrm_db"]
    bench = _Bench(app, url, runs, warmup, log)
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "warmup": warmup,
        "data": (read_marker(url) or {}).get("counts", {}),
        "machine": {"cpus": os.cpu_count()},
        "user": bench.user,
        "trials": {},
    }
    try:
        results["server"] = bench.server_version()
        results.update(bench.measure_all("as is", profile))
        results["machine"]["load_before"] = results["load_before"]
        results["machine"]["load_after"] = results["load_after"]
        if try_index:
            with candidate_index(url, log) as ddl:
                database.dispose()  # new connections, which know the new index
                trial = bench.measure_all("with the index", profile)
                results["trials"]["index"] = {"change": ddl, **trial}
                if try_plain_page:
                    with plain_page():
                        trial = bench.measure_all("with the index and the plain page", profile)
                    results["trials"]["index_plain_page"] = {
                        "change": f"{ddl}; today.task_page as bench.today.plain_task_page",
                        **trial,
                    }
            database.dispose()
        elif try_plain_page:
            with plain_page():
                trial = bench.measure_all("with the plain page", profile)
            results["trials"]["plain_page"] = {
                "change": "today.task_page as bench.today.plain_task_page",
                **trial,
            }
    finally:
        bench.close()
        database.dispose()
    return results


class _Bench:
    """The app, its test client with the user's token, and the statement log."""

    def __init__(
        self, app: Flask, url: str, runs: int, warmup: int, log: Callable[[str], None]
    ) -> None:
        self.app, self.url, self.runs, self.warmup, self.log = app, url, runs, warmup, log
        self.statements = StatementLog(app.extensions["cardcrm_db"].engine)
        setup = _setup(app, url)
        self.user, self.token_id = setup["user"], setup["token_id"]
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {setup['token']}"}
        today = datetime.now(UTC).astimezone(ZoneInfo(self.user["timezone"])).date()
        week_end = today + timedelta(days=WEEK_DAYS - 1)
        self.cases = {"today": PATH, "week": f"{PATH}?from={today}&to={week_end}"}
        self.bodies: dict[str, Any] = {}

    def get(self, path: str) -> Any:
        response = self.client.get(path, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.get_data(True)}")
        return response

    def server_version(self) -> str:
        floor = Floor(self.url, 0)
        try:
            return floor.server_version()
        finally:
            floor.close()

    def measure_all(self, label: str, profile: bool) -> dict[str, Any]:
        """Every case, on a new floor connection (so that its plans are made afresh)."""
        floor = Floor(self.url, 0)  # its raw cursor and EXPLAIN; its card statements unused
        done: dict[str, Any] = {"load_before": load_average(), "cases": {}}
        try:
            for name, path in self.cases.items():
                self.log(f"  timing {name} ({path}) {label} ...")
                done["cases"][name] = self._case(floor, name, path)
            if profile:
                self.log(f"  profiling today {label} ...")
                done["profile"] = _profile(lambda: self.get(PATH))
        finally:
            floor.close()
        done["load_after"] = load_average()
        return done

    def _case(self, floor: Floor, name: str, path: str) -> dict[str, Any]:
        runs, warmup = self.runs, self.warmup
        with self.statements.capture() as sent:
            response = self.get(path)
        body = response.get_json()
        # Every variant must answer, byte for byte, what the app as it is answers.
        if self.bodies.setdefault(name, response.get_data()) != response.get_data():
            raise RuntimeError(f"{name}: the response differs from the first variant's")
        parts = _classify(sent)
        _check_floor(body, _run_parts(floor, parts))
        api = _Clocked(lambda: self.get(path))
        case: dict[str, Any] = {
            "path": path,
            "period": body["period"],
            "totals": body["totals"],
            "tasks_on_page": len(body["tasks"]),
            "more_pages": body["next_cursor"] is not None,
            "response_bytes": len(response.get_data()),
            "statements": [_short(statement) for statement, _ in sent],
            "api": measure(api, runs, warmup),
            "floor": measure(lambda: _run_parts(floor, parts), runs, warmup),
        }
        case["api"]["cpu_median_ms"] = api.median_ms(runs)
        case["floor_parts"] = {
            part: measure(lambda part=part: _run_parts(floor, {part: parts[part]}), runs, warmup)
            for part in PARTS
        }
        case["ratio"] = round(case["api"]["median_ms"] / case["floor"]["median_ms"], 1)
        case["plans"] = {part: floor.explain(*parts[part]) for part in PARTS}
        return case

    def close(self) -> None:
        _forget_token(self.app, self.token_id)


class _Clocked:
    """A call that also notes this process's CPU time (the timings are wall-clock)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call
        self.cpu: list[float] = []

    def __call__(self) -> Any:
        started = time.process_time()
        try:
            return self.call()
        finally:
            self.cpu.append(time.process_time() - started)

    def median_ms(self, last: int) -> float:
        return round(statistics.median(self.cpu[-last:]) * 1000, 3)


# --- the user ---------------------------------------------------------------------------------


def _setup(app: Flask, url: str) -> dict[str, Any]:
    """The user with the most tasks, their task counts, and a token of theirs."""
    with app.app_context():
        session = get_db().session()
        try:
            row = session.execute(
                select(Task.assignee_id, func.count())
                .where(Task.assignee_id.is_not(None))
                .group_by(Task.assignee_id)
                .order_by(func.count().desc(), Task.assignee_id)
                .limit(1)
            ).first()
            if row is None:
                raise SystemExit(
                    f"{display_url(url)} holds no tasks: run `python -m bench generate`"
                )
            user = session.get(User, row[0])
            by_status = dict(
                session.execute(
                    select(Task.status, func.count())
                    .where(Task.assignee_id == user.id)
                    .group_by(Task.status)
                ).all()
            )
            details = {
                "id": user.id,
                "email": user.email,
                "timezone": user.timezone,
                "is_admin": user.is_admin,
                "tasks": row[1],
                "tasks_by_status": by_status,
            }
            token, token_row = create_token(session, user=user, name="bench.today")
            return {"user": details, "token": token, "token_id": token_row.id}
        finally:
            session.close()


def _forget_token(app: Flask, token_id: int) -> None:
    """Delete the benchmark's token, so that runs do not pile tokens up in the database."""
    with app.app_context():
        session = get_db().session()
        try:
            with write_transaction(session):
                session.execute(delete(ApiToken).where(ApiToken.id == token_id))
        finally:
            session.close()


# --- the floor --------------------------------------------------------------------------------


def _classify(sent: list[tuple[str, Any]]) -> dict[str, tuple[str, Any]]:
    """The totals and task-page statements among those one request sent."""
    parts: dict[str, tuple[str, Any]] = {}
    for statement, parameters in sent:
        flat = " ".join(statement.split())
        if "FROM task_postponements" in flat:
            parts["postponed"] = (statement, parameters)
        elif "FROM tasks JOIN cards" in flat and "ORDER BY" in flat:
            parts["page"] = (statement, parameters)
        elif "FILTER (WHERE" in flat and "FROM tasks" in flat:
            parts["open_totals"] = (statement, parameters)
        elif "count(*)" in flat and "closed_at" in flat:
            parts["closed"] = (statement, parameters)
    missing = [name for name in PARTS if name not in parts]
    if missing:
        raise RuntimeError(f"the request sent no statement for {', '.join(missing)}")
    return {name: parts[name] for name in PARTS}


def _run_parts(floor: Floor, parts: dict[str, tuple[str, Any]]) -> dict[str, list[Any]]:
    rows = {}
    for name, (statement, parameters) in parts.items():
        floor.cursor.execute(statement, parameters)
        rows[name] = floor.cursor.fetchall()
    return rows


def _check_floor(body: dict[str, Any], rows: dict[str, list[Any]]) -> None:
    """The floor must compute what the API answered: the same totals and page."""
    overdue, due = rows["open_totals"][0]
    found = {
        "due": due or 0,
        "overdue": overdue or 0,
        "closed": rows["closed"][0][0],
        "postponed": rows["postponed"][0][0],
    }
    if found != body["totals"]:
        raise RuntimeError(f"the floor's totals {found} are not the API's {body['totals']}")
    page_ids = [row[0] for row in rows["page"]][: len(body["tasks"])]
    if sorted(page_ids) != sorted(task["id"] for task in body["tasks"]):
        raise RuntimeError("the floor's page holds other tasks than the API's")


# --- the service layer and the profile --------------------------------------------------------


def _profile(call: Callable[[], Any], calls: int = 50) -> list[str]:
    """Where the request's time goes (pyinstrument, library frames folded)."""
    from pyinstrument import Profiler

    for _ in range(5):
        call()
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(calls):
        call()
    profiler.stop()
    output = profiler.output_text(unicode=False, color=False, show_all=False)
    return [line.rstrip() for line in output.splitlines() if line.strip()]


# --- the changes tried ------------------------------------------------------------------------


@contextmanager
def candidate_index(url: str, log: Callable[[str], None] = print) -> Iterator[str]:
    """``CANDIDATE_INDEX`` on the database for the block's duration; yields its DDL."""
    name, table, columns = CANDIDATE_INDEX
    ddl = f"CREATE INDEX {name} ON {table} ({columns})"
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
            log(f"  {ddl} ...")
            connection.execute(text(ddl))
            if engine.dialect.name == "sqlite":  # its statistics, for the planner
                connection.execute(text(f"ANALYZE {name}"))
        yield ddl
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
        log(f"  dropped {name}")
        engine.dispose()


#: The columns ``TaskSchema`` dumps, in its order.
TASK_FIELDS = tuple(TaskSchema().fields)
INSTANTS = ("due", "closed_at", "created_at", "updated_at")


def plain_task_page(
    session: Session,
    user: User,
    period: rules.Period,
    limit: int,
    cursor: str | None,
    show: str = "tasks",
) -> tuple[list[dict[str, Any]], str | None]:
    """``today.task_page`` on plain rows: the change proposed for the app, timed here.

    The same statement, but selecting the task's columns instead of the ``Task`` entity (no
    ORM objects, identity map or version tracking), and the items built as dicts instead of
    by ``TaskSchema.dump``. ``plain_page`` checks it answers exactly what the app answers.
    Only the usual list is timed; the totals' lists (``show``) are the app's.
    """
    if show != "tasks":
        return rules.task_page(session, user, period, limit, cursor, show)
    overdue = rules._is_overdue(period)
    rank = sql_case((overdue, 0), else_=1)
    query = (
        select(
            *(Task.__table__.c[name] for name in TASK_FIELDS),
            overdue.label("overdue"),
            Card.title.label("card_title"),
            Product.name.label("product_name"),
            Status.name.label("status_name"),
            Status.group.label("status_group"),
        )
        .join(Card, Card.id == Task.card_id)
        .join(Product, Product.id == Task.product_id)
        .join(Status, Status.id == Card.status_id)
        .where(
            *rules._open_tasks_in_reach(scope_of(session, user), user, period),
            or_(overdue, rules._is_due(period)),
        )
    )
    position = decode_cursor(cursor)
    if position is not None:
        try:
            after_rank = int(position.get("rank", 0))
            after_due, after_id = datetime.fromisoformat(position["due"]), int(position["id"])
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise Invalid({"cursor": ["Not a cursor this API gave out."]}) from error
        query = query.where(
            or_(
                rank > after_rank,
                and_(
                    rank == after_rank,
                    or_(Task.due > after_due, and_(Task.due == after_due, Task.id > after_id)),
                ),
            )
        )
    rows = session.execute(query.order_by(rank, Task.due, Task.id).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            {"rank": 0 if last.overdue else 1, "due": last.due.isoformat(), "id": last.id}
        )
    tasks = []
    for row in rows:
        item = dict(zip(TASK_FIELDS, row, strict=False))
        for name in INSTANTS:
            item[name] = isoformat_z(item[name])
        if item["due_date"] is not None:
            item["due_date"] = item["due_date"].isoformat()
        item["card"] = {"id": row.card_id, "title": row.card_title}
        item["product"] = {"id": row.product_id, "name": row.product_name}
        item["card_status"] = {"name": row.status_name, "group": row.status_group}
        item["overdue"] = bool(row.overdue)
        tasks.append(item)
    return tasks, next_cursor


@contextmanager
def plain_page() -> Iterator[None]:
    """The app's Today view with ``plain_task_page`` for the block's duration."""
    original = view.task_page
    view.task_page = plain_task_page
    try:
        yield
    finally:
        view.task_page = original


# --- printing ---------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    user = results["user"]
    machine = results["machine"]
    statuses = ", ".join(f"{count:,} {name}" for name, count in user["tasks_by_status"].items())
    lines = [
        f"Today view benchmark on {results['server']}: {results['database']}",
        f"user {user['id']} ({user['email']}, {user['timezone']}, "
        f"{'admin' if user['is_admin'] else 'member'}): {user['tasks']:,} tasks ({statuses})",
        f"{results['runs']} timed runs after {results['warmup']} warm-up; times in ms; "
        f"{machine['cpus']} CPUs, load average {machine['load_before']} before, "
        f"{machine['load_after']} after",
        "",
        *_cases_table(results["cases"]),
    ]
    for name, case in results["cases"].items():
        lines += ["", f"{name}: {len(case['statements'])} statements per request"]
        lines += [f"    {statement}" for statement in case["statements"]]
        lines += _plans(case)
    lines += ["", *_aims(results["cases"])]
    if results.get("profile"):
        lines += ["", "Profile of GET /api/v1/today (50 calls):", *results["profile"]]
    for trial in results["trials"].values():
        lines += [
            "",
            f"With {trial['change']}; load average {trial['load_before']} before, "
            f"{trial['load_after']} after:",
            "",
            *_cases_table(trial["cases"]),
        ]
        for name, case in trial["cases"].items():
            lines += ["", f"{name}:", *_plans(case)]
        lines += ["", *_aims(trial["cases"])]
        if trial.get("profile"):
            lines += ["", "Profile of GET /api/v1/today:", *trial["profile"]]
    return "\n".join(lines)


def _cases_table(cases: dict[str, Any]) -> list[str]:
    lines = [
        f"{'period':<8}{'totals (due/overdue/closed/postponed)':>40}{'page':>6}"
        f"{'API med':>9}{'API p95':>9}{'floor med':>10}{'floor p95':>10}{'API/floor':>10}"
        f"{'API CPU':>9}",
    ]
    for name, case in cases.items():
        t = case["totals"]
        lines.append(
            f"{name:<8}{t['due']:>13,} /{t['overdue']:>7,} /{t['closed']:>6,} /{t['postponed']:>6,}"
            f"{case['tasks_on_page']:>12}{case['api']['median_ms']:>9.2f}"
            f"{case['api']['p95_ms']:>9.2f}{case['floor']['median_ms']:>10.3f}"
            f"{case['floor']['p95_ms']:>10.3f}{case['ratio']:>9.1f}x"
            f"{case['api']['cpu_median_ms']:>9.2f}"
        )
    lines.append(
        "  floor, statement by statement (median ms): "
        + "; ".join(
            f"{name}: "
            + ", ".join(
                f"{part} {timing['median_ms']:.3f}" for part, timing in case["floor_parts"].items()
            )
            for name, case in cases.items()
        )
    )
    return lines


def _plans(case: dict[str, Any]) -> list[str]:
    lines = []
    for name, plan in case["plans"].items():
        lines.append(f"  plan of {name}:")
        lines += [f"      {line}" for line in plan["plan"]]
    return lines


def _aims(cases: dict[str, Any]) -> list[str]:
    lines = []
    for name, case in cases.items():
        fast = case["api"]["median_ms"] < AIM_MS
        close = case["ratio"] <= AIM_RATIO
        lines.append(
            f"aim ({name}): under {AIM_MS:.0f} ms median: {'yes' if fast else 'NO'}; "
            f"within {AIM_RATIO:.0f}x the floor: {'yes' if close else 'NO'}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.today", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default=DEFAULT_SQLITE_URL, help="a generated database")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per case")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first")
    parser.add_argument("--profile", action="store_true", help="profile the request too")
    parser.add_argument(
        "--try-index",
        action="store_true",
        help=f"time again with the index {CANDIDATE_INDEX[0]} (created, then dropped)",
    )
    parser.add_argument(
        "--try-plain-page",
        action="store_true",
        help="time again with plain_task_page in place of today.task_page",
    )
    args = parser.parse_args(argv)
    upgrade(args.url)  # idempotent: brings an older generated schema to the current one
    print(f"benchmarking the Today view on {display_url(args.url)}")
    results = run(
        args.url,
        args.runs,
        args.warmup,
        profile=args.profile,
        try_index=args.try_index,
        try_plain_page=args.try_plain_page,
    )
    print()
    print(table(results))
    print(f"\nresults: {report.save('today', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
