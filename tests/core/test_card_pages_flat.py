"""A page deep in a card list costs what the first page costs: the next page starts where the
last one ended (a keyset bound on an index range), it does not read and drop every card before
it. Measured as the work SQLite's virtual machine does for the page's statements (its progress
handler counts instructions), and on PostgreSQL as the rows its plan reads (EXPLAIN ANALYZE):
deterministic, unlike time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cardcrm.core.cards.models import Card
from sqlalchemy import event, insert

from tests.conftest import get_db_from

CARDS = 2_000  # half with a deadline (the list's "due" part), half without ("none")
STEP = 100  # instructions between two calls of the progress handler


@pytest.fixture
def long_list(app: Any, admin: Any) -> dict[str, Any]:
    product = admin.product("sales")
    statuses = [status["id"] for status in product["statuses"]]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "product_id": product["id"],
            "status_id": statuses[number % 2],
            "title": f"Card {number}",
            "fields": {},
            "next_task_due": start + timedelta(hours=number) if number % 2 else None,
            "created_at": start,
            "updated_at": start + timedelta(minutes=number),
        }
        for number in range(CARDS)
    ]
    with get_db_from(app).engine.begin() as connection:
        connection.execute(insert(Card), rows)
    return {"product": product, "status_id": statuses[0]}


class Instructions:
    """Counts the virtual machine's instructions (in hundreds) of every pooled connection."""

    def __init__(self, app: Any) -> None:
        self.engine = get_db_from(app).engine
        self.steps = 0

    def _count(self) -> int:
        self.steps += 1
        return 0  # go on

    def _checkout(self, dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_progress_handler(self._count, STEP)

    def of(self, ask: Any) -> tuple[int, Any]:
        self.steps = 0
        event.listen(self.engine, "checkout", self._checkout)
        try:
            answer = ask()
        finally:
            event.remove(self.engine, "checkout", self._checkout)
        return self.steps, answer


def walk(api: Any, app: Any, path: str) -> list[int]:
    """The instructions of each page of the list at ``path``, first to last."""
    counter = Instructions(app)
    costs, cursor = [], None
    while True:
        ask = path + (f"&cursor={cursor}" if cursor else "")
        steps, page = counter.of(lambda ask=ask: api.ok("GET", ask))
        costs.append(steps)
        cursor = page["next_cursor"]
        if cursor is None:
            return costs


@pytest.mark.parametrize("query", ["", "&status_id={status_id}", "&group=inactive"])
def test_a_page_deep_in_the_list_costs_what_the_first_costs(app, admin, long_list, query):
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("counts SQLite's instructions (PostgreSQL's plans are in bench/cards.py)")
    path = f"products/{long_list['product']['id']}/cards?limit=20" + query.format(**long_list)
    costs = walk(admin, app, path)
    assert len(costs) > 20
    first = max(costs[:3])
    # The deepest pages of either part: the cards with a deadline, then those without.
    assert max(costs) <= 3 * first, costs


def cards_read(plan: dict[str, Any]) -> int:
    """The rows the plan's scans of ``cards`` read (kept or dropped by a filter), all loops."""
    read = 0
    if plan.get("Relation Name") == "cards" and "Scan" in plan["Node Type"]:
        kept = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
        read += kept * plan.get("Actual Loops", 1)
    for child in plan.get("Plans", []):
        read += cards_read(child)
    return read


def test_a_status_page_of_cards_without_a_deadline_reads_its_own_cards(app, admin):
    """A board's column (``?status_id=``) pages through the status's cards without a deadline
    most recently updated first: each page reads about its own cards, not all of the status's
    (sorted on every page) nor the newer cards of other statuses before them."""
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("SQLite reads this order from the status index (the test above counts it)")
    product = admin.product("sales")
    won, lost = (status["id"] for status in product["statuses"][-2:])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "product_id": product["id"],
            "status_id": won if number < 2_000 else lost,  # the lost ones changed last
            "title": f"Card {number}",
            "fields": {},
            "next_task_due": None,
            "created_at": start,
            "updated_at": start + timedelta(minutes=number),
        }
        for number in range(4_000)
    ]
    engine = get_db_from(app).engine
    with engine.begin() as connection:
        connection.execute(insert(Card), rows)
        connection.exec_driver_sql("ANALYZE cards")
    path = f"products/{product['id']}/cards?limit=50&status_id={won}"
    plans = []
    cursor = None
    for _ in range(3):  # the first page, the second and the third: each asked once
        page = path + (f"&cursor={cursor}" if cursor else "")
        statement, parameters, answer = page_statement(
            engine, lambda page=page: admin.ok("GET", page)
        )
        with engine.connect() as connection:
            [(plan,)] = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
            ).all()
        plans.append(plan[0]["Plan"])
        cursor = answer["next_cursor"]
    for plan in plans:
        assert cards_read(plan) <= 3 * 51, plan


def page_statement(engine: Any, ask: Any) -> tuple[str, Any, Any]:
    """The statement (and its parameters) that reads the part of the list without deadlines
    when ``ask()`` runs, and what ``ask()`` answered."""
    sent: list[tuple[str, Any]] = []

    def remember(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        if "FROM cards" in statement and "ORDER BY cards.updated_at DESC" in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        answer = ask()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    return (*sent[-1], answer)
