"""Benchmark of a product's card list and of a single card, through the real Flask app.

Each case is timed through the app's test client (routing, token check, query, marshmallow,
JSON) and next to it the *floor*: the bare SQL statement that returns the same rows, run on a
raw DBAPI cursor. Also counted: the SQL statements one request sends, for several page sizes
(the count must not grow with the page), and the query plan of the first page.

With ``--profile`` the first page (as it is made, through the test client) is also run under
cProfile, and the functions that take the most time are printed and kept in the results.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from cardcrm.common.db import get_db, make_engine
from cardcrm.core import create_app
from cardcrm.core.auth.models import User
from cardcrm.core.auth.service import create_token
from cardcrm.core.cards.models import Card
from cardcrm.core.cards.schemas import CardSchema
from cardcrm.core.products.models import Membership
from cardcrm.core.products.service import get_product
from flask import Flask
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import selectinload

from .database import dialect_of, display_url, read_marker
from .timing import load_average

#: How deep the deep page of a filtered list is (``status_filter_deep``): a page reached by
#: following the cursor must cost what the first one costs.
DEEP_PAGES = 40
#: The title searches timed: a word no card holds (every card would be tested) and one most
#: cards hold (a page is found at once).
RARE_WORD, COMMON_WORD = "gmbh", "licences"
PAGE = 50
#: Page sizes whose statement counts are compared.
COUNTED_LIMITS = (5, 50, 500)
COLUMNS = (
    "id, product_id, status_id, title, owner_id, fields, next_task_due, trashed_at, "
    "created_at, updated_at, version"
)


def measure(call: Callable[[], Any], runs: int, warmup: int) -> dict[str, float]:
    """Milliseconds per call: median, 95th percentile, mean and fastest of ``runs`` calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(statistics.quantiles(samples, n=20, method="inclusive")[18], 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "min_ms": round(min(samples), 3),
        "runs": runs,
    }


class StatementLog:
    """Collects the SQL statements an engine sends while ``capture()`` is active."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[tuple[str, Any]] | None = None
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.statements is not None:
            self.statements.append((statement, parameters))

    @contextmanager
    def capture(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        try:
            yield self.statements
        finally:
            self.statements = None


def run(
    url: str,
    runs: int = 200,
    warmup: int = 20,
    log: Callable[[str], None] = print,
    host: str | None = None,
    port: int | None = None,
    profile: bool = False,
) -> dict:
    """Run every case against the generated database at ``url``; returns the results.

    Each round times every case once through the API and once on its floor (A, B, A, B ...),
    so both see the same machine load and their ratio means something on a busy machine.
    With ``port`` the app is served over real HTTP on ``host:port`` (one keep-alive
    connection); without it, through Flask's test client.
    """
    # The cases time the answer as it is made (no answers kept, ``ANSWER_CACHE_BYTES`` 0);
    # ``first_page_kept`` times the same page answered again by an app that keeps answers
    # (``cardcrm.core.answers``), as a running core does while no event is recorded.
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "ANSWER_CACHE_BYTES": 0})
    kept_app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    engine = app.extensions["cardcrm_db"].engine
    statements = StatementLog(engine)
    setup = _setup(app, url, runs + warmup)
    small = _small_product(app, url)
    client = _Client(app, host, port)
    kept_client = _Client(kept_app, host, port + 1 if port else None)
    headers = {"Authorization": f"Bearer {setup['token']}"}
    small_headers = {"Authorization": f"Bearer {small['token']}"}
    product_id = setup["product_id"]
    list_path = f"/api/v1/products/{product_id}/cards?limit={PAGE}"
    small_path = f"/api/v1/products/{small['product_id']}/cards?limit={PAGE}"

    def getter(
        path_of: Callable[[], str], auth: dict[str, str] = headers, through: _Client = client
    ) -> Callable[[], Any]:
        def call() -> Any:
            path = path_of()
            status, body = through.get(path, auth)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
            return body

        return call

    def get(path: str, auth: dict[str, str] = headers) -> Any:
        return getter(lambda: path, auth)()

    first = json.loads(get(list_path))
    second_path = f"{list_path}&cursor={first['next_cursor']}"
    statuses = _status_ids(app, product_id)
    status_path = f"{list_path}&status_id={statuses[0]}"
    deep_path = _deep(get, status_path, DEEP_PAGES)
    sort_path = f"{list_path}&sort=-updated"
    rare_path, common_path = (f"{list_path}&q={word}" for word in (RARE_WORD, COMMON_WORD))
    card_ids, floor_ids = iter(setup["card_ids"]), iter(setup["card_ids"])
    floor = Floor(url, product_id)
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "warmup": warmup,
        "transport": f"http://{host}:{port}" if port else "Flask test client",
        "product_id": product_id,
        "small_product_id": small["product_id"],
        "data": {**setup["data"], "cards_in_small_product": small["cards"]},
        "server": floor.server_version(),
        "machine": {"cpus": os.cpu_count(), "load_before": load_average()},
        "cases": {},
    }
    try:
        page_two_after = floor.first_page()[PAGE - 1]
        small_floor = Floor(url, small["product_id"])
        # Cases beyond the contract's order: their floor is the statement the API sends, bare.
        status_sql = _list_statement(statements, lambda: get(status_path))
        sort_sql = _list_statement(statements, lambda: get(sort_path))
        deep_sql = _list_statement(statements, lambda: get(deep_path))
        rare_sql = _card_statements(statements, lambda: get(rare_path))
        common_sql = _card_statements(statements, lambda: get(common_path))
        cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
            "first_page": (getter(lambda: list_path), floor.first_page),
            "first_page_kept": (
                getter(lambda: list_path, through=kept_client),
                floor.first_page,
            ),
            "second_page": (
                getter(lambda: second_path),
                lambda: floor.next_page(page_two_after),
            ),
            "small_first_page": (getter(lambda: small_path, small_headers), small_floor.first_page),
            "status_filter": (getter(lambda: status_path), lambda: floor.bare(*status_sql)),
            "status_filter_deep": (getter(lambda: deep_path), lambda: floor.bare(*deep_sql)),
            "sort_updated_desc": (getter(lambda: sort_path), lambda: floor.bare(*sort_sql)),
            "search_rare": (getter(lambda: rare_path), lambda: floor.each(rare_sql)),
            "search_common": (getter(lambda: common_path), lambda: floor.each(common_sql)),
            "card": (
                getter(lambda: f"/api/v1/cards/{next(card_ids)}"),
                lambda: floor.card(next(floor_ids)),
            ),
        }
        log(f"  timing {', '.join(cases)} interleaved, {runs} rounds ...")
        samples = _interleaved_rounds(cases, runs, warmup)
        for name, (api_ms, floor_ms, api_cpu, floor_cpu) in samples.items():
            case: dict[str, Any] = {"api": _summary(api_ms), "floor": _summary(floor_ms)}
            case["ratio"] = round(case["api"]["median_ms"] / case["floor"]["median_ms"], 2)
            case["api_cpu"] = _summary(api_cpu)
            case["floor_cpu"] = _summary(floor_cpu)
            case["cpu_ratio"] = round(
                case["api_cpu"]["median_ms"] / max(case["floor_cpu"]["median_ms"], 0.001), 2
            )
            results["cases"][name] = case
        small_floor.close()
        results["cases"]["first_page"]["dump"] = _dump_time(app, product_id, runs, warmup)
        page = results["cases"]["first_page"]
        results["api_p50_ms"] = page["api"]["median_ms"]
        results["floor_p50_ms"] = page["floor"]["median_ms"]
        results["ratio"] = page["ratio"]
        results["api_cpu_p50_ms"] = page["api_cpu"]["median_ms"]
        results["floor_cpu_p50_ms"] = page["floor_cpu"]["median_ms"]
        small_page = results["cases"]["small_first_page"]
        results["flat"] = {
            "small_cards": small["cards"],
            "main_cards": setup["data"]["cards_in_product"],
            "small_api_p50_ms": small_page["api"]["median_ms"],
            "main_api_p50_ms": page["api"]["median_ms"],
            "main_over_small": round(page["api"]["median_ms"] / small_page["api"]["median_ms"], 2),
            "small_ratio": small_page["ratio"],
            "main_ratio": page["ratio"],
        }
        deep = results["cases"]["status_filter_deep"]
        results["flat_in_depth"] = {
            "pages": DEEP_PAGES,
            "first_api_p50_ms": results["cases"]["status_filter"]["api"]["median_ms"],
            "deep_api_p50_ms": deep["api"]["median_ms"],
            "deep_over_first": round(
                deep["api"]["median_ms"] / results["cases"]["status_filter"]["api"]["median_ms"], 2
            ),
        }
        if profile:
            log("  profiling the first page ...")
            results["profile"] = _profile(getter(lambda: list_path), runs)
        results["statements"] = _count_statements(statements, get, product_id, second_path, setup)
        results["plans"] = {
            "first_page": floor.explain(*_list_statement(statements, lambda: get(list_path))),
            "second_page": floor.explain(*_list_statement(statements, lambda: get(second_path))),
        }
    finally:
        client.close()
        kept_client.close()
        floor.close()
        app.extensions["cardcrm_db"].dispose()
        kept_app.extensions["cardcrm_db"].dispose()
    results["machine"]["load_after"] = load_average()
    return results


def _deep(get: Callable[[str], Any], path: str, pages: int) -> str:
    """The path of the page ``pages`` pages after the first of the list at ``path`` (or of its
    last page, if it has fewer)."""
    cursor = json.loads(get(path))["next_cursor"]
    deep = path
    for _ in range(pages):
        if cursor is None:
            break
        deep = f"{path}&cursor={cursor}"
        cursor = json.loads(get(deep))["next_cursor"]
    return deep


def _interleaved_rounds(
    cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]], runs: int, warmup: int
) -> dict[str, tuple[list[float], list[float], list[float], list[float]]]:
    """Each round runs every case's API call then its floor: A, B, A, B across all cases.

    Per call: the wall time and this thread's CPU time (the app runs in this thread unless
    served over HTTP; the database server's CPU is not counted). On a loaded machine the CPU
    time says what a request costs where the wall time mostly says how long it waited.
    """
    for _ in range(warmup):
        for api, bare in cases.values():
            api()
            bare()
    samples: dict[str, tuple[list[float], list[float], list[float], list[float]]] = {
        name: ([], [], [], []) for name in cases
    }
    clock, cpu = time.perf_counter, time.thread_time
    for _ in range(runs):
        for name, (api, bare) in cases.items():
            api_ms, floor_ms, api_cpu, floor_cpu = samples[name]
            started, started_cpu = clock(), cpu()
            api()
            api_ms.append((clock() - started) * 1000)
            api_cpu.append((cpu() - started_cpu) * 1000)
            started, started_cpu = clock(), cpu()
            bare()
            floor_ms.append((clock() - started) * 1000)
            floor_cpu.append((cpu() - started_cpu) * 1000)
    return samples


def _profile(call: Callable[[], Any], calls: int, top: int = 40) -> list[str]:
    """Where a request's time goes: cProfile over ``calls`` calls, the functions with the
    most time of their own first, then by cumulative time (the callers)."""
    for _ in range(10):
        call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    lines = []
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(top)
        lines += [line.rstrip() for line in text.getvalue().splitlines() if line.strip()]
    return lines


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(statistics.quantiles(samples, n=20, method="inclusive")[18], 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "min_ms": round(min(samples), 3),
        "runs": len(samples),
    }


class _Client:
    """GET through Flask's test client, or over HTTP to the app served on ``host:port``."""

    def __init__(self, app: Flask, host: str | None, port: int | None) -> None:
        self.server: Any = None
        self.connection: http.client.HTTPConnection | None = None
        if port is None:
            self.test_client = app.test_client()
            return
        from werkzeug.serving import WSGIRequestHandler, make_server

        WSGIRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive, like a real client
        self.server = make_server(host or "127.0.0.1", port, app, threaded=False)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.connection = http.client.HTTPConnection(host or "127.0.0.1", port)

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.connection is None:
            response = self.test_client.get(path, headers=headers)
            return response.status_code, response.get_data()
        self.connection.request("GET", path, headers=headers)
        answer = self.connection.getresponse()
        return answer.status, answer.read()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        if self.server is not None:
            self.server.shutdown()


def _small_product(app: Flask, url: str) -> dict[str, Any]:
    """The smallest other product (1,000 cards in the bench data) and a member's token."""
    with app.app_context():
        session = get_db().session()
        try:
            counted = session.execute(
                select(Card.product_id, func.count())
                .where(Card.trashed_at.is_(None))
                .group_by(Card.product_id)
                .order_by(func.count(), Card.product_id)
            ).all()
            for product_id, count in counted:
                user = session.scalar(
                    select(User)
                    .join(Membership, Membership.user_id == User.id)
                    .where(Membership.product_id == product_id, ~Membership.own_cards_only)
                    .where(~User.is_admin)
                    .order_by(User.id)
                    .limit(1)
                )
                if user is not None:
                    token, _ = create_token(session, user=user, name="benchmark")
                    return {"product_id": product_id, "token": token, "cards": count}
        finally:
            session.close()
    raise SystemExit(f"{display_url(url)} holds no second product with a member")


def _status_ids(app: Flask, product_id: int) -> list[int]:
    with app.app_context():
        session = get_db().session()
        try:
            return [status.id for status in get_product(session, product_id).statuses]
        finally:
            session.close()


def _setup(app: Flask, url: str, samples: int) -> dict[str, Any]:
    """The product with the most cards, a user's token, and cards to fetch one by one."""
    with app.app_context():
        session = get_db().session()
        try:
            marker = read_marker(url) or {}
            product_id = marker.get("main_product_id") or session.scalar(
                select(Card.product_id)
                .group_by(Card.product_id)
                .order_by(func.count().desc())
                .limit(1)
            )
            # A colleague who sees the whole product: a member, not limited, not an admin.
            user = session.scalar(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.product_id == product_id, ~Membership.own_cards_only)
                .where(~User.is_admin)
                .order_by(User.id)
                .limit(1)
            )
            if product_id is None or user is None:
                raise SystemExit(f"{display_url(url)} holds no generated data: run generate first")
            token, _ = create_token(session, user=user, name="benchmark")
            ids = list(
                session.scalars(
                    select(Card.id).where(Card.product_id == product_id, Card.trashed_at.is_(None))
                )
            )
            data = marker.get("counts") or {"cards": session.scalar(select(func.count(Card.id)))}
        finally:
            session.close()
    rng = random.Random(7)
    return {
        "product_id": product_id,
        "token": token,
        "card_ids": [rng.choice(ids) for _ in range(samples)],
        "data": {**data, "cards_in_product": len(ids)},
    }


def _dump_time(app: Flask, product_id: int, runs: int, warmup: int) -> dict[str, float]:
    """The response alone: ``CardSchema`` dump of the first page (loaded as ORM objects, as
    before the fast path) and its JSON text."""
    with app.app_context():
        session = get_db().session()
        try:
            cards = list(
                session.scalars(
                    select(Card)
                    .options(selectinload(Card.status), selectinload(Card.contact_links))
                    .where(
                        Card.product_id == product_id,
                        Card.trashed_at.is_(None),
                        Card.next_task_due.is_not(None),
                    )
                    .order_by(Card.next_task_due, Card.id)
                    .limit(PAGE)
                )
            )
            schema = CardSchema()

            def dump() -> str:
                return app.json.dumps({"items": schema.dump(cards, many=True), "next_cursor": "x"})

            return measure(dump, runs, warmup)
        finally:
            session.close()


def _count_statements(
    log: StatementLog, get: Callable[[str], Any], product_id: int, second_path: str, setup: dict
) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    for limit in COUNTED_LIMITS:
        with log.capture() as statements:
            get(f"/api/v1/products/{product_id}/cards?limit={limit}")
        counts[f"list_limit_{limit}"] = len(statements)
        if limit == PAGE:
            counts["list_sql"] = [_short(statement) for statement, _ in statements]
    with log.capture() as statements:
        get(second_path)
    counts["second_page"] = len(statements)
    with log.capture() as statements:
        get(f"/api/v1/cards/{setup['card_ids'][0]}")
    counts["card"] = len(statements)
    counts["card_sql"] = [_short(statement) for statement, _ in statements]
    return counts


def _list_statement(log: StatementLog, call: Callable[[], Any]) -> tuple[str, Any]:
    """The statement (and parameters) the API sent for the page of cards."""
    with log.capture() as statements:
        call()
    for statement, parameters in statements:
        if "FROM cards" in statement and "next_task_due" in statement and "ORDER BY" in statement:
            return statement, parameters
    raise RuntimeError("the card list request sent no query of the cards table")


def _card_statements(log: StatementLog, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Every statement the request sent after the token check (a search's lookups and the
    list's parts)."""
    with log.capture() as statements:
        call()
    return [
        (sql, parameters)
        for sql, parameters in statements
        if sql.lstrip().startswith("SELECT") and "api_tokens" not in sql
    ]


def _short(statement: str, width: int = 160) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


class Floor:
    """The bare SQL of each case on a raw DBAPI cursor, with the app's engine settings."""

    def __init__(self, url: str, product_id: int) -> None:
        self.dialect = dialect_of(url)
        self.engine = make_engine(url)
        self.connection = self.engine.raw_connection()
        if self.dialect == "postgresql":
            self.connection.driver_connection.autocommit = True
        self.cursor = self.connection.cursor()
        mark = "?" if self.dialect == "sqlite" else "%s"
        base = f"SELECT {COLUMNS} FROM cards WHERE product_id = {mark} AND trashed_at IS NULL"
        order = f"ORDER BY next_task_due, id LIMIT {PAGE + 1}"
        self.first_sql = f"{base} AND next_task_due IS NOT NULL {order}"
        self.next_sql = (
            f"{base} AND next_task_due IS NOT NULL AND (next_task_due > {mark} "
            f"OR next_task_due = {mark} AND id > {mark}) {order}"
        )
        self.card_sql = f"SELECT {COLUMNS} FROM cards WHERE id = {mark}"
        self.product_id = product_id

    def first_page(self) -> list[Any]:
        self.cursor.execute(self.first_sql, (self.product_id,))
        return self.cursor.fetchall()

    def next_page(self, last: Any) -> list[Any]:
        due, card_id = last[6], last[0]
        self.cursor.execute(self.next_sql, (self.product_id, due, due, card_id))
        return self.cursor.fetchall()

    def bare(self, statement: str, parameters: Any) -> list[Any]:
        """A statement the API sent, with its parameters, on the raw cursor."""
        self.cursor.execute(statement, parameters)
        return self.cursor.fetchall()

    def each(self, statements: list[tuple[str, Any]]) -> list[Any]:
        """Statements the API sent, one after the other, on the raw cursor."""
        return [self.bare(statement, parameters) for statement, parameters in statements]

    def card(self, card_id: int) -> list[Any]:
        self.cursor.execute(self.card_sql, (card_id,))
        return self.cursor.fetchall()

    def explain(self, statement: str, parameters: Any) -> dict[str, Any]:
        if self.dialect == "sqlite":
            self.cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _unused, detail in self.cursor.fetchall():
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
        else:
            self.cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
            lines = [row[0] for row in self.cursor.fetchall()]
        return {"sql": " ".join(statement.split()), "plan": lines}

    def server_version(self) -> str:
        if self.dialect == "sqlite":
            self.cursor.execute("SELECT sqlite_version()")
            return f"SQLite {self.cursor.fetchone()[0]}"
        self.cursor.execute("SHOW server_version")
        return f"PostgreSQL {self.cursor.fetchone()[0]}"

    def close(self) -> None:
        self.cursor.close()
        self.connection.close()
        self.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.cards --url URL [--runs N --warmup N --host H --port P]``."""
    from . import report
    from .database import DEFAULT_SQLITE_URL

    parser = argparse.ArgumentParser(prog="python -m bench.cards", description=__doc__)
    parser.add_argument("--url", default=DEFAULT_SQLITE_URL, help="a generated database")
    parser.add_argument("--runs", type=int, default=200, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=20, help="untimed rounds first")
    parser.add_argument("--host", default="127.0.0.1", help="where to serve (with --port)")
    parser.add_argument("--port", type=int, help="serve the app over HTTP on this port")
    parser.add_argument(
        "--profile", action="store_true", help="also print where the first page's time goes"
    )
    args = parser.parse_args(argv)
    print(f"benchmarking cards on {display_url(args.url)}")
    results = run(
        args.url, args.runs, args.warmup, host=args.host, port=args.port, profile=args.profile
    )
    path = report.save("cards", results)
    if args.profile:
        print("\n".join(results["profile"]))
    print()
    print(table(results))
    print(f"\nresults: {path}")
    return 0


def table(results: dict[str, Any]) -> str:
    """The report's table, then the first page's ratio and the 1,000 vs 100,000 comparison."""
    from .report import cards_table

    flat = results["flat"]
    return "\n".join(
        [
            cards_table(results),
            "",
            f"transport: {results['transport']}",
            f"first page: API p50 {results['api_p50_ms']:.2f} ms, floor p50 "
            f"{results['floor_p50_ms']:.3f} ms, ratio {results['ratio']:.2f}x",
            f"{flat['small_cards']:,} vs {flat['main_cards']:,} cards: API p50 "
            f"{flat['small_api_p50_ms']:.2f} vs {flat['main_api_p50_ms']:.2f} ms "
            f"(x{flat['main_over_small']:.2f}); ratios to floor {flat['small_ratio']:.2f}x vs "
            f"{flat['main_ratio']:.2f}x",
            "",
            "CPU time of this thread per call, p50 ms (the database server's not counted):",
            *(
                f"  {name:<20} API {case['api_cpu']['median_ms']:7.3f}  floor "
                f"{case['floor_cpu']['median_ms']:7.3f}"
                for name, case in results["cases"].items()
            ),
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
