"""Benchmark of a product's card list and of a single card, through the real Flask app.

Each case is timed through the app's test client (routing, token check, query, marshmallow,
JSON) and next to it the *floor*: the bare SQL statement that returns the same rows, run on a
raw DBAPI cursor. Also counted: the SQL statements one request sends, for several page sizes
(the count must not grow with the page), and the query plan of the first page.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from cardcrm.common.db import get_db, make_engine
from cardcrm.core import create_app
from cardcrm.core.auth.models import User
from cardcrm.core.auth.service import create_token
from cardcrm.core.cards import queries
from cardcrm.core.cards.models import Card
from cardcrm.core.cards.schemas import CardSchema
from cardcrm.core.products.models import Membership
from cardcrm.core.products.service import get_product
from flask import Flask
from sqlalchemy import Engine, event, func, select

from .database import dialect_of, display_url, read_marker
from .timing import load_average

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


def run(url: str, runs: int = 200, warmup: int = 20, log: Callable[[str], None] = print) -> dict:
    """Run every case against the generated database at ``url``; returns the results."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    engine = app.extensions["cardcrm_db"].engine
    statements = StatementLog(engine)
    setup = _setup(app, url, runs + warmup)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {setup['token']}"}
    product_id = setup["product_id"]
    list_path = f"/api/v1/products/{product_id}/cards?limit={PAGE}"

    def get(path: str) -> Any:
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.get_data(True)}")
        return response

    first = get(list_path).get_json()
    second_path = f"{list_path}&cursor={first['next_cursor']}"
    card_ids, floor_ids = iter(setup["card_ids"]), iter(setup["card_ids"])
    floor = Floor(url, product_id)
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "warmup": warmup,
        "product_id": product_id,
        "data": setup["data"],
        "server": floor.server_version(),
        "machine": {"cpus": os.cpu_count(), "load_before": load_average()},
        "cases": {},
    }
    try:
        page_two_after = floor.first_page()[PAGE - 1]
        cases = {
            "first_page": (
                lambda: get(list_path),
                floor.first_page,
                _orm_page(app, product_id, None),
            ),
            "second_page": (
                lambda: get(second_path),
                lambda: floor.next_page(page_two_after),
                _orm_page(app, product_id, first["next_cursor"]),
            ),
            "card": (
                lambda: get(f"/api/v1/cards/{next(card_ids)}"),
                lambda: floor.card(next(floor_ids)),
                None,
            ),
        }
        for name, (api_call, floor_call, orm_call) in cases.items():
            log(f"  timing {name} ...")
            case = {
                "api": measure(api_call, runs, warmup),
                "floor": measure(floor_call, runs, warmup),
            }
            if orm_call is not None:
                case["orm"] = measure(orm_call, runs, warmup)
            case["ratio"] = round(case["api"]["median_ms"] / case["floor"]["median_ms"], 1)
            results["cases"][name] = case
        results["cases"]["first_page"]["dump"] = _dump_time(app, product_id, runs, warmup)
        results["statements"] = _count_statements(statements, get, product_id, second_path, setup)
        results["plans"] = {
            "first_page": floor.explain(*_list_statement(statements, lambda: get(list_path))),
            "second_page": floor.explain(*_list_statement(statements, lambda: get(second_path))),
        }
    finally:
        floor.close()
        app.extensions["cardcrm_db"].dispose()
    results["machine"]["load_after"] = load_average()
    return results


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


def _orm_page(app: Flask, product_id: int, cursor: str | None) -> Callable[[], Any]:
    """The service layer alone: a session, the product and ``queries.list_cards``, no HTTP."""

    def call() -> Any:
        with app.app_context():
            session = get_db().session()
            try:
                product = get_product(session, product_id)
                args = {"limit": PAGE, "cursor": cursor, "trashed": False}
                return queries.list_cards(session, product, args, {})
            finally:
                session.close()

    return call


def _dump_time(app: Flask, product_id: int, runs: int, warmup: int) -> dict[str, float]:
    """The response alone: ``CardSchema`` dump of a loaded page and its JSON text."""
    with app.app_context():
        session = get_db().session()
        try:
            product = get_product(session, product_id)
            args = {"limit": PAGE, "cursor": None, "trashed": False}
            cards, cursor = queries.list_cards(session, product, args, {})
            schema = CardSchema()

            def dump() -> str:
                return app.json.dumps(
                    {"items": schema.dump(cards, many=True), "next_cursor": cursor}
                )

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
