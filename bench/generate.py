"""Fill an empty core database with the benchmark's data, quickly.

The schema comes from the real migrations. The few products and their statuses are made with
the ORM exactly as ``create_product`` makes them; users, cards, tasks, postponements, history
and events are bulk-inserted with SQLAlchemy Core (``insert()`` with lists of row dicts, in
batches of 10,000, one transaction per table) from the rows ``bench.dataset`` builds. Then
ANALYZE, a check that the rows keep the services' rules, and the marker ``bench all`` reads.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from cardcrm.common.db import get_db
from cardcrm.common.timeutil import utcnow
from cardcrm.core import create_app
from cardcrm.core.cards.fields import clean_values
from cardcrm.core.cards.schemas import CardSchema
from cardcrm.core.migrate import upgrade
from cardcrm.core.models import (
    Base,
    Card,
    CardHistory,
    Event,
    Postponement,
    Product,
    Status,
    Task,
    User,
)
from cardcrm.core.products.members import set_members
from cardcrm.core.products.models import CLOSED_GROUPS, GROUPS
from cardcrm.core.products.service import product_data
from cardcrm.core.products.task_types import product_task_types
from cardcrm.core.products.templates import list_templates
from cardcrm.core.tasks.models import TASK_STATUSES
from cardcrm.core.tasks.schemas import TaskSchema
from flask import Flask
from sqlalchemy import Engine, Table, and_, create_engine, func, or_, select, text
from werkzeug.security import generate_password_hash

from . import dataset, history
from .bulk import indexes_deferred, insert_rows
from .database import GENERATOR_VERSION, dialect_of, display_url, make_empty, write_marker
from .dataset import Dataset, ProductPlan, Sizes

#: The products made, one per built-in template; the first gets ``Sizes.cards`` cards.
TEMPLATES = ("sales", "invoices", "recruiting", "projects")
#: Every generated user's password (to log in to the web UI of a generated database).
PASSWORD = "bench-password"

Log = Callable[[str], None]


def generate(url: str, sizes: Sizes, *, force: bool = False, log: Log = print) -> dict[str, Any]:
    """Make the database at ``url`` anew and load it; returns a summary (also the marker)."""
    started = time.perf_counter()
    steps: dict[str, float] = {}

    def step(name: str, since: float) -> float:
        now = time.perf_counter()
        steps[name] = round(now - since, 2)
        log(f"  {name}: {steps[name]:.1f} s")
        return now

    log(f"generating into {display_url(url)}: {sizes.as_dict()}")
    make_empty(url, force=force)
    upgrade(url)
    mark = step("migrations", started)
    now = utcnow()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context(), _paused_gc():
        database = get_db()
        engine = database.engine
        try:
            users = dataset.build_users(sizes, now, generate_password_hash(PASSWORD))
            insert_rows(engine, User.__table__, users)
            session = database.session()
            plans = _create_products(session, sizes, now - dataset.HISTORY_SPAN)
            _add_members(session, plans, users)
            main_product_id = plans[0].product.id
            first_event = (session.scalar(select(func.max(Event.id))) or 0) + 1
            mark = step("users and products", mark)
            data = dataset.build(sizes, plans, users, now, _plugins_allow(app))
            _check_payloads(data, plans)
            session.close()
            mark = step("building rows in memory", mark)
            counts = _load(engine, data, first_event, step, mark)
        finally:
            database.dispose()
    mark = time.perf_counter()
    _finish(url)
    mark = step("sequences, ANALYZE", mark)
    checks = verify(url)
    step("consistency checks", mark)
    summary = {
        "generator": GENERATOR_VERSION,
        "url": display_url(url),
        "dialect": dialect_of(url),
        "sizes": sizes.as_dict(),
        "counts": counts,
        "main_product_id": main_product_id,
        "checks": checks,
        "generated_at": now.isoformat(),
        "seconds": round(time.perf_counter() - started, 1),
        "steps": steps,
    }
    problems = {name: value for name, value in checks.items() if name.startswith("bad_") and value}
    if problems:
        raise SystemExit(f"generated data breaks the services' rules: {problems}")
    write_marker(url, summary)
    log(f"generated in {summary['seconds']:.0f} s: {counts}")
    return summary


@contextmanager
def _paused_gc() -> Iterator[None]:
    """Millions of small dicts make the cyclic GC rescan the heap over and over; the rows
    hold no cycles, so it can wait until the load is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _create_products(session: Any, sizes: Sizes, at: datetime) -> list[ProductPlan]:
    """One product per built-in template, made as ``products.service.create_product`` does."""
    templates = {template["key"]: template for template in list_templates()}
    admin = session.get(User, 1)
    plans = []
    for key in TEMPLATES:
        template = templates.get(key)
        if template is None:
            raise SystemExit(f"the built-in {key!r} template is not installed")
        product = Product(
            name=template["name"],
            slug=key,
            template=key,
            fields=list(template.get("fields", [])),
            task_types=list(template.get("task_types", [])),
            created_at=at,
            updated_at=at,
        )
        positions = dict.fromkeys(GROUPS, 0)
        for item in template["statuses"]:
            group = item["group"]
            product.statuses.append(
                Status(
                    name=item["name"],
                    group=group,
                    group_order=GROUPS.index(group),
                    position=positions[group],
                )
            )
            positions[group] += 1
        session.add(product)
        session.flush()
        # The outbox row create_product's commit would write, dated with the product.
        session.add(
            Event(type="product.created", at=at, actor_id=admin.id, data=product_data(product))
        )
        cards = sizes.cards if not plans else sizes.other_cards
        types = [item["key"] for item in product_task_types(product)]
        plans.append(ProductPlan(product=product, cards=cards, task_types=types))
    session.commit()
    return plans


def _add_members(session: Any, plans: list[ProductPlan], users: list[dict[str, Any]]) -> None:
    """Product memberships, through ``access.set_members``: the whole team works in the main
    product (every tenth member on their own cards only); a third of it in each other one."""
    people = [user["id"] for user in users if not user["is_admin"]]
    for number, plan in enumerate(plans):
        if number == 0:
            items = [{"user_id": uid, "own_cards_only": uid % 10 == 0} for uid in people]
        else:
            items = [{"user_id": uid} for uid in people if (uid + number) % 3 == 0]
        set_members(session, plan.product.id, items)


def _plugins_allow(app: Flask) -> dataset.Veto:
    """Ask the plugins' veto hook, as ``create_card`` and ``update_card`` do."""
    plugins = app.extensions["cardcrm_plugins"]

    def allowed(product: Product, old: Status | None, new: Status, values: dict[str, Any]) -> bool:
        card = SimpleNamespace(
            product=product, product_id=product.id, status=old or new, status_id=(old or new).id,
            fields=values, title="", owner_id=None,
        )  # fmt: skip
        results = plugins.hook.cardcrm_validate_status_change(
            card=card, old_status=old, new_status=new, user=None
        )
        return not any(results)

    return allowed


def _check_payloads(data: Dataset, plans: list[ProductPlan]) -> None:
    """Field values and history/event payloads must equal what the real code produces."""
    for plan in plans:
        cards = [card for card in data.cards if card["product_id"] == plan.product.id][:50]
        for card in cards:
            cleaned = clean_values(plan.product.fields, card["fields"])
            if list(cleaned.items()) != list(card["fields"].items()):
                raise AssertionError(f"field values differ from clean_values: {card['fields']}")
    card_schema, task_schema = CardSchema(), TaskSchema()

    def dumped_card(card: dict[str, Any], **state: Any) -> dict[str, Any]:
        values = {**card, **state}
        group = data.statuses[values["status_id"]]["group"]
        return card_schema.dump(
            SimpleNamespace(
                **values, status_group=group, closed=group in CLOSED_GROUPS,
                trashed=values["trashed_at"] is not None,
            )
        )  # fmt: skip

    for index, card in enumerate(data.cards[:200]):
        if dumped_card(card) != history.card_data(data, index):
            raise AssertionError(f"card payload differs: {card}")
    for move in data.moves[:200]:
        real = dumped_card(
            data.cards[move.card], status_id=move.after, next_task_due=move.next_task_due,
            updated_at=move.at, version=move.version, trashed_at=None,
        )  # fmt: skip
        if real != history.moved_card_data(data, move):
            raise AssertionError(f"moved card payload differs: {real}")
    for index, task in enumerate(data.tasks[:500]):
        if task_schema.dump(SimpleNamespace(**task)) != history.task_data(data, index):
            raise AssertionError(f"task payload differs: {task}")


def _load(
    engine: Engine,
    data: Dataset,
    first_event: int,
    step: Callable[[str, float], float],
    mark: float,
) -> dict[str, int]:
    counts = {}
    changes = history.Changes(data)
    tables: list[tuple[str, Table, Iterable[dict[str, Any]]]] = [
        ("cards", Card.__table__, data.cards),
        ("tasks", Task.__table__, data.tasks),
        ("task_postponements", Postponement.__table__, data.postponements),
        ("card_history", CardHistory.__table__, changes.history_rows()),
        ("events", Event.__table__, changes.event_rows(first_event)),
    ]
    with indexes_deferred(engine, [table.name for _, table, _ in tables]):
        for name, table, rows in tables:
            counts[name] = insert_rows(engine, table, rows)
            mark = step(f"insert {counts[name]:,} {name}", mark)
    step("re-creating the indexes", mark)
    return counts


def _finish(url: str) -> None:
    """Move PostgreSQL's id sequences past the given ids, and refresh the planner statistics."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if dialect_of(url) == "postgresql":
                for table in Base.metadata.sorted_tables:
                    if "id" not in table.c or not table.c.id.primary_key:
                        continue
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"coalesce(max(id), 1), max(id) IS NOT NULL) FROM {table.name}"
                        )
                    )
                # A loaded table would be vacuumed by autovacuum soon; do it now, with ANALYZE,
                # so the visibility map is as it would be in a database that has been running.
                connection.exec_driver_sql("VACUUM (ANALYZE)")
            else:
                connection.exec_driver_sql("ANALYZE")
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def verify(url: str) -> dict[str, Any]:
    """Counts, and the rules the services keep (every ``bad_`` count must be 0)."""
    open_due = (
        select(func.min(Task.due))
        .where(Task.card_id == Card.id, Task.status == "open")
        .scalar_subquery()
    )
    engine = create_engine(url)
    try:
        with engine.connect() as connection:

            def count(*where: Any, table: Any = Card) -> int:
                return connection.scalar(select(func.count()).select_from(table).where(*where))

            tasks = count(table=Task)
            closed = count(Task.status.in_(("done", "cancelled")), table=Task)
            return {
                "cards": count(),
                "tasks": tasks,
                "closed_task_share": round(closed / tasks, 3) if tasks else 0.0,
                "cards_without_next_task": count(Card.next_task_due.is_(None)),
                "trashed_cards": count(Card.trashed_at.is_not(None)),
                "bad_next_task_due": count(Card.next_task_due.is_distinct_from(open_due)),
                "bad_card_status": count(
                    ~select(Status.id)
                    .where(Status.id == Card.status_id, Status.product_id == Card.product_id)
                    .exists()
                ),
                "bad_task_product": count(
                    ~select(Card.id)
                    .where(and_(Card.id == Task.card_id, Card.product_id == Task.product_id))
                    .exists(),
                    table=Task,
                ),
                "bad_task_status": count(Task.status.not_in(TASK_STATUSES), table=Task),
                "bad_closed_fields": count(
                    or_(
                        and_(Task.status == "open", Task.closed_at.is_not(None)),
                        and_(Task.status != "open", Task.closed_at.is_(None)),
                    ),
                    table=Task,
                ),
            }
    finally:
        engine.dispose()
