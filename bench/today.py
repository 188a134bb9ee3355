"""Benchmark of the Today view's API (``GET /api/v1/today``) for the user with the most tasks.

``python -m bench.today --url URL`` on a database made by ``python -m bench generate``.

Two periods are timed: the default one (today in the user's time zone) and the week starting
today (``from`` = today, ``to`` = today + 6 days). Each request goes through the real Flask app
with a bearer token (routing, token check, membership scope, queries, JSON): in this process
through the test client, or with ``--http`` over real HTTP to ``cardcrm serve core`` (gunicorn,
one worker, one thread) started on ``--host``/``--port``. Next to each, the *floor*: the
statements the app sends for the totals and the first page of tasks, captured with a
``before_cursor_execute`` listener and run with the same parameters on a raw DBAPI cursor.
API and floor are timed interleaved (A, B, A, B, ...) in ``--rounds`` rounds, so that both see
the same machine load; their ratio of medians is the figure. Also reported: this process's CPU
time per in-process request, the statements a request sends, the query plans, the users with
the most and the fewest closed tasks side by side (Today must not grow with closed tasks), and
with ``--profile`` where the request's time goes (pyinstrument).

``--try-index`` creates ``CANDIDATE_INDEX`` on the database, times everything again and drops
the index afterwards (also when the run fails). Every variant must answer the same bytes.
Results go to ``bench/results/today-<dialect>-latest.json`` (``api_p50_ms``, ``floor_p50_ms``
and ``ratio`` at the top are the default period's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from cardcrm.common.db import get_db, make_engine, write_transaction
from cardcrm.core import create_app
from cardcrm.core.auth.models import ApiToken, User
from cardcrm.core.auth.service import create_token
from cardcrm.core.migrate import upgrade
from cardcrm.core.products.models import Membership
from cardcrm.core.tasks.models import Task
from flask import Flask
from sqlalchemy import delete, func, select, text

from . import report
from .cards import Floor, StatementLog, _short
from .database import DEFAULT_SQLITE_URL, dialect_of, display_url, read_marker
from .timing import interleaved, load_average, summary

#: The issue's aims for the Today view.
AIM_MS = 20.0
AIM_RATIO = 2.0
PATH = "/api/v1/today"
WEEK_DAYS = 7
CARDCRM = Path(sys.executable).with_name("cardcrm")
#: The index tried by ``--try-index``: the one the view's open-task statements range over,
#: widened so that their filters (trash, product, all-day date) are read from the index, and
#: with ``id`` so that its order is still ``ORDER BY due, id``.
CANDIDATE_INDEX = (
    "ix_tasks_bench_assignee_status_due_cover",
    "tasks",
    "assignee_id, status, due, id, card_trashed, product_id, all_day, due_date",
)


def run(
    url: str,
    runs: int = 200,
    warmup: int = 20,
    *,
    rounds: int = 3,
    http: tuple[str, int] | None = None,
    profile: bool = False,
    try_index: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Time the Today view on the generated database at ``url``; returns the results.

    ``http`` (host, port) times it over HTTP against ``cardcrm serve core`` started there;
    ``try_index`` times it again with ``CANDIDATE_INDEX``.
    """
    # Timed as the answer is made (no answers kept, ``ANSWER_CACHE_BYTES`` 0); each case also
    # times the answer kept by an app that keeps answers (``cardcrm.core.answers``), as a
    # running core answers it again while no event is recorded and no deadline passes.
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "ANSWER_CACHE_BYTES": 0})
    database = app.extensions["cardcrm_db"]
    bench = _Bench(app, url, runs, warmup, rounds, log)
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "warmup": warmup,
        "rounds": rounds,
        "transport": f"HTTP to cardcrm serve core on {http[0]}:{http[1]}" if http else "in process",
        "data": (read_marker(url) or {}).get("counts", {}),
        "machine": {"cpus": os.cpu_count()},
        "user": bench.user,
        "trials": {},
    }
    try:
        results["server"] = bench.server_version()
        with _served(url, http, log) if http else _nothing() as base:
            bench.base = base
            results.update(bench.measure_all("as is", profile))
            results["closed_tasks"] = bench.closed_flatness()
            results["machine"]["load_before"] = results["load_before"]
            results["machine"]["load_after"] = results["load_after"]
            if try_index:
                with candidate_index(url, log) as ddl:
                    database.dispose()  # new connections, which know the new index
                    trial = bench.measure_all("with the index", profile)
                    results["trials"]["index"] = {"change": ddl, **trial}
                database.dispose()
    finally:
        bench.close()
        database.dispose()
    today = results["cases"]["today"]
    results["api_p50_ms"] = today["api"]["median_ms"]
    results["floor_p50_ms"] = today["floor"]["median_ms"]
    results["ratio"] = today["ratio"]
    return results


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


@contextmanager
def _served(url: str, http: tuple[str, int], log: Callable[[str], None]) -> Iterator[str]:
    """``cardcrm serve core`` (gunicorn, 1 worker, 1 thread) on ``http`` until the block ends."""
    host, port = http
    base = f"http://{host}:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(
        CARDCRM_DATABASE_URL=url,
        CARDCRM_DATA_DIR=os.environ.get("TMPDIR", "/tmp"),
        CARDCRM_SECRET_KEY="bench-today-secret-key-0123456789",
    )
    command = [str(CARDCRM), "serve", "core", "--host", host, "--port", str(port)]
    command += ["--workers", "1", "--threads", "1"]
    log(f"  starting {' '.join(command)} ...")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                error = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"`cardcrm serve core` did not start:\n{error}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Bench:
    """The app, its test client (or an HTTP session) with the user's token, the statement log."""

    def __init__(
        self, app: Flask, url: str, runs: int, warmup: int, rounds: int, log: Callable[[str], None]
    ) -> None:
        self.app, self.url, self.runs, self.warmup, self.log = app, url, runs, warmup, log
        self.rounds = rounds
        self.statements = StatementLog(app.extensions["cardcrm_db"].engine)
        self.setup = _setup(app, url)
        self.user = self.setup["users"]["most_tasks"]
        self.client = app.test_client()
        self.kept_app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"})
        self.kept_client = self.kept_app.test_client()
        self.http = requests.Session()
        self.base: str | None = None
        today = datetime.now(UTC).astimezone(ZoneInfo(self.user["timezone"])).date()
        week_end = today + timedelta(days=WEEK_DAYS - 1)
        self.cases = {"today": PATH, "week": f"{PATH}?from={today}&to={week_end}"}
        self.bodies: dict[str, Any] = {}

    def headers(self, who: str = "most_tasks") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.setup['tokens'][who]}"}

    def get(self, path: str, who: str = "most_tasks") -> bytes:
        if self.base is not None:
            answer = self.http.get(self.base + path, headers=self.headers(who))
            status, body = answer.status_code, answer.content
        else:
            response = self.client.get(path, headers=self.headers(who))
            status, body = response.status_code, response.get_data()
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:500]!r}")
        return body

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
                done["profile"] = _profile(lambda: self.client.get(PATH, headers=self.headers()))
        finally:
            floor.close()
        done["load_after"] = load_average()
        return done

    def _case(self, floor: Floor, name: str, path: str) -> dict[str, Any]:
        with self.statements.capture() as sent:
            self.client.get(path, headers=self.headers())
        body = self.get(path)
        # Every variant must answer, byte for byte, what the app as it is answers.
        if self.bodies.setdefault(name, body) != body:
            raise RuntimeError(f"{name}: the response differs from the first variant's")
        answer = self.app.json.loads(body)
        parts = _classify(sent)
        _check_floor(answer, _run_parts(floor, parts))
        api = _Clocked(lambda: self.get(path))
        api_ms, floor_ms = self._interleaved(api, lambda: _run_parts(floor, parts))
        case: dict[str, Any] = {
            "path": path,
            "period": answer["period"],
            "totals": answer["totals"],
            "tasks_on_page": len(answer["tasks"]),
            "more_pages": answer["next_cursor"] is not None,
            "response_bytes": len(body),
            "statements": [_short(statement) for statement, _ in sent],
            "api": summary(api_ms),
            "floor": summary(floor_ms),
            "rounds": self._rounds,
        }
        if self.base is None:
            case["api"]["cpu_median_ms"] = round(statistics.median(api.cpu) * 1000, 3)
            case["kept"] = self._kept(floor, path, body, parts)
        case["ratio"] = round(case["api"]["median_ms"] / case["floor"]["median_ms"], 2)
        case["plans"] = {part: floor.explain(*parts[part]) for part in parts}
        return case

    def _kept(
        self, floor: Floor, path: str, body: bytes, parts: dict[str, tuple[str, Any]]
    ) -> dict[str, Any]:
        """The same request answered again by the app that keeps answers, against the floor."""

        def again() -> bytes:
            response = self.kept_client.get(path, headers=self.headers())
            if response.status_code != 200 or response.get_data() != body:
                raise RuntimeError(f"{path}: the kept answer differs from the one made")
            return response.get_data()

        kept = _Clocked(again)
        rounds = self._rounds
        kept_ms, floor_ms = self._interleaved(kept, lambda: _run_parts(floor, parts))
        self._rounds = rounds
        done = {"api": summary(kept_ms), "floor": summary(floor_ms)}
        done["api"]["cpu_median_ms"] = round(statistics.median(kept.cpu) * 1000, 3)
        done["ratio"] = round(done["api"]["median_ms"] / done["floor"]["median_ms"], 2)
        return done

    def _interleaved(
        self, a: Callable[[], Any], b: Callable[[], Any]
    ) -> tuple[list[float], list[float]]:
        """``rounds`` rounds of A, B, A, B; each round's medians and ratio kept in ``_rounds``."""
        a_all: list[float] = []
        b_all: list[float] = []
        self._rounds: list[dict[str, float]] = []
        per_round = max(1, self.runs // self.rounds)
        for number in range(self.rounds):
            a_ms, b_ms = interleaved(a, b, per_round, self.warmup if number == 0 else 1)
            a_all += a_ms
            b_all += b_ms
            a_med, b_med = statistics.median(a_ms), statistics.median(b_ms)
            self._rounds.append(
                {
                    "api_ms": round(a_med, 3),
                    "floor_ms": round(b_med, 3),
                    "ratio": round(a_med / b_med, 2),
                }
            )
        return a_all, b_all

    def closed_flatness(self) -> dict[str, Any]:
        """The members with the most and the fewest closed tasks (of the members who see their
        products whole), interleaved: Today must not grow with closed tasks (they are outside
        its index ranges)."""
        most, fewest = self.setup["users"]["most_closed"], self.setup["users"]["fewest_closed"]
        self.log(
            f"  timing today for users {most['id']} ({most['closed']:,} closed tasks) and "
            f"{fewest['id']} ({fewest['closed']:,}) ..."
        )
        a_ms, b_ms = interleaved(
            lambda: self.get(PATH, "most_closed"),
            lambda: self.get(PATH, "fewest_closed"),
            self.runs,
            self.warmup,
        )
        a, b = summary(a_ms), summary(b_ms)
        return {
            "most_closed": {**most, "api": a},
            "fewest_closed": {**fewest, "api": b},
            "ratio": round(a["median_ms"] / b["median_ms"], 2),
        }

    def close(self) -> None:
        self.http.close()
        self.kept_app.extensions["cardcrm_db"].dispose()
        _forget_tokens(self.app, self.setup["token_ids"])


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


# --- the users --------------------------------------------------------------------------------


def _setup(app: Flask, url: str) -> dict[str, Any]:
    """The user with the most tasks, those with the most and fewest closed, a token of each."""
    with app.app_context():
        session = get_db().session()
        try:
            counts = session.execute(
                select(Task.assignee_id, Task.status, func.count())
                .where(Task.assignee_id.is_not(None))
                .group_by(Task.assignee_id, Task.status)
            ).all()
            if not counts:
                raise SystemExit(
                    f"{display_url(url)} holds no tasks: run `python -m bench generate`"
                )
            by_user: dict[int, dict[str, int]] = {}
            for user_id, status, count in counts:
                by_user.setdefault(user_id, {})[status] = count
            total = {user_id: sum(statuses.values()) for user_id, statuses in by_user.items()}
            # The closed-tasks pair differs in little else: two members who see their products
            # whole (a member limited to own cards has their cards checked too, which costs
            # more whatever the closed tasks; an admin's tasks are not checked at all). Data
            # without such members (a small test set) falls back to every user.
            other_kinds = set(
                session.scalars(select(Membership.user_id).where(Membership.own_cards_only))
            ) | set(session.scalars(select(User.id).where(User.is_admin)))
            alike = [user_id for user_id in by_user if user_id not in other_kinds] or [*by_user]
            picked = {
                "most_tasks": min(total, key=lambda user_id: (-total[user_id], user_id)),
                "most_closed": max(alike, key=lambda user_id: by_user[user_id].get("done", 0)),
                "fewest_closed": min(alike, key=lambda user_id: by_user[user_id].get("done", 0)),
            }
            users: dict[str, Any] = {}
            tokens: dict[str, str] = {}
            token_ids = []
            for role, user_id in picked.items():
                user = session.get(User, user_id)
                assert user is not None
                users[role] = {
                    "id": user.id,
                    "email": user.email,
                    "timezone": user.timezone,
                    "is_admin": user.is_admin,
                    "tasks": total[user_id],
                    "closed": by_user[user_id].get("done", 0),
                    "tasks_by_status": by_user[user_id],
                }
                token, token_row = create_token(session, user=user, name=f"bench.today {role}")
                tokens[role] = token
                token_ids.append(token_row.id)
            return {"users": users, "tokens": tokens, "token_ids": token_ids}
        finally:
            session.close()


def _forget_tokens(app: Flask, token_ids: list[int]) -> None:
    """Delete the benchmark's tokens, so that runs do not pile tokens up in the database."""
    with app.app_context():
        session = get_db().session()
        try:
            with write_transaction(session):
                session.execute(delete(ApiToken).where(ApiToken.id.in_(token_ids)))
        finally:
            session.close()


# --- the floor --------------------------------------------------------------------------------


def _classify(sent: list[tuple[str, Any]]) -> dict[str, tuple[str, Any]]:
    """The task page and the totals statements (one, or three before issue 18) a request sent."""
    parts: dict[str, tuple[str, Any]] = {}
    totals = 0
    for statement, parameters in sent:
        flat = " ".join(statement.split())
        if flat.startswith("SELECT tasks.id, tasks.card_id") and "ORDER BY" in flat:
            parts["page"] = (statement, parameters)
        elif "FROM tasks" in flat and "count(*)" in flat:
            totals += 1
            parts[f"totals_{totals}"] = (statement, parameters)
    if "page" not in parts or totals not in (1, 3):
        raise RuntimeError(f"unexpected statements: {[_short(s) for s, _ in sent]}")
    return parts


def _run_parts(floor: Floor, parts: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    rows = {}
    for name, (statement, parameters) in parts.items():
        floor.cursor.execute(statement, parameters)
        rows[name] = floor.cursor.fetchall()
    return rows


def _check_floor(body: dict[str, Any], rows: dict[str, list[Any]]) -> None:
    """The floor must compute what the API answered: the same totals and page."""
    if "totals_3" in rows:  # open (overdue, due), closed, postponed
        overdue, due = rows["totals_1"][0]
        closed, postponed = rows["totals_2"][0][0], rows["totals_3"][0][0]
    else:
        due, overdue, closed, postponed = rows["totals_1"][0][:4]
    found = {"due": due or 0, "overdue": overdue or 0, "closed": closed, "postponed": postponed}
    if found != body["totals"]:
        raise RuntimeError(f"the floor's totals {found} are not the API's {body['totals']}")
    page_ids = [row[0] for row in rows["page"]][: len(body["tasks"])]
    if sorted(page_ids) != sorted(task["id"] for task in body["tasks"]):
        raise RuntimeError("the floor's page holds other tasks than the API's")


# --- the profile ------------------------------------------------------------------------------


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


# --- printing ---------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    user = results["user"]
    machine = results["machine"]
    statuses = ", ".join(f"{count:,} {name}" for name, count in user["tasks_by_status"].items())
    lines = [
        f"Today view benchmark on {results['server']}: {results['database']}, "
        f"{results['transport']}",
        f"user {user['id']} ({user['email']}, {user['timezone']}, "
        f"{'admin' if user['is_admin'] else 'member'}): {user['tasks']:,} tasks ({statuses})",
        f"{results['runs']} timed runs of API and floor interleaved in {results['rounds']} rounds, "
        f"after {results['warmup']} warm-up; times in ms; {machine['cpus']} CPUs, load average "
        f"{machine['load_before']} before, {machine['load_after']} after",
        "",
        *_cases_table(results["cases"]),
    ]
    for name, case in results["cases"].items():
        lines += ["", f"{name}: {len(case['statements'])} statements per request"]
        lines += [f"    {statement}" for statement in case["statements"]]
        lines += _plans(case)
    flat = results.get("closed_tasks")
    if flat:
        most, fewest = flat["most_closed"], flat["fewest_closed"]
        lines += [
            "",
            f"closed tasks: user {most['id']} ({most['closed']:,} closed) "
            f"{most['api']['median_ms']:.2f} ms vs user {fewest['id']} ({fewest['closed']:,} "
            f"closed) {fewest['api']['median_ms']:.2f} ms: ratio {flat['ratio']:.2f}",
        ]
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
    return "\n".join(lines)


def _cases_table(cases: dict[str, Any]) -> list[str]:
    lines = [
        f"{'period':<8}{'totals (due/overdue/closed/postponed)':>40}{'page':>6}"
        f"{'API med':>9}{'API p95':>9}{'floor med':>10}{'floor p95':>10}{'API/floor':>10}"
        f"{'API CPU':>9}",
    ]
    for name, case in cases.items():
        t = case["totals"]
        cpu = case["api"].get("cpu_median_ms")
        lines.append(
            f"{name:<8}{t['due']:>13,} /{t['overdue']:>7,} /{t['closed']:>6,} /{t['postponed']:>6,}"
            f"{case['tasks_on_page']:>12}{case['api']['median_ms']:>9.2f}"
            f"{case['api']['p95_ms']:>9.2f}{case['floor']['median_ms']:>10.3f}"
            f"{case['floor']['p95_ms']:>10.3f}{case['ratio']:>9.2f}x"
            f"{'' if cpu is None else format(cpu, '.2f'):>9}"
        )
    for name, case in cases.items():
        lines.append(
            f"  {name}, by round (API / floor ms, ratio): "
            + "; ".join(
                f"{r['api_ms']:.2f} / {r['floor_ms']:.3f}, {r['ratio']:.2f}x"
                for r in case["rounds"]
            )
        )
    for name, case in cases.items():
        kept = case.get("kept")
        if kept:
            lines.append(
                f"  {name}, answer kept (asked again, nothing changed): "
                f"{kept['api']['median_ms']:.2f} ms median, p95 {kept['api']['p95_ms']:.2f}, "
                f"{kept['ratio']:.2f}x the floor, CPU {kept['api']['cpu_median_ms']:.2f} ms"
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
    parser.add_argument("--runs", type=int, default=300, help="timed runs per case (all rounds)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of interleaved runs")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first")
    parser.add_argument(
        "--http", action="store_true", help="time over HTTP to `cardcrm serve core`"
    )
    parser.add_argument("--host", default="127.0.0.1", help="where --http serves core")
    parser.add_argument("--port", type=int, default=0, help="where --http serves (0: a free port)")
    parser.add_argument("--profile", action="store_true", help="profile the request too")
    parser.add_argument(
        "--try-index",
        action="store_true",
        help=f"time again with the index {CANDIDATE_INDEX[0]} (created, then dropped)",
    )
    args = parser.parse_args(argv)
    upgrade(args.url)  # idempotent: brings an older generated schema to the current one
    print(f"benchmarking the Today view on {display_url(args.url)}")
    http = (args.host, args.port or _free_port(args.host)) if args.http else None
    results = run(
        args.url,
        args.runs,
        args.warmup,
        rounds=args.rounds,
        http=http,
        profile=args.profile,
        try_index=args.try_index,
    )
    print()
    print(table(results))
    print(f"\nresults: {report.save('today', results)}")
    return 0


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
