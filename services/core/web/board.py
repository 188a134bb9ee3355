"""What the board and the card list show of cards: per-status counts and sums of the product's
money field, key fields, owners' initials, and the next task's date with its overdue mark.

Every query here is bounded: the totals are one grouped query for the whole board (an
aggregate over the product's cards, read from the status index alone: see
docs/benchmarks.md for the time at 100,000 cards), the next tasks one query for the cards
shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import false, func, null, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..access import scope_of
from ..auth.models import User
from ..cards.models import Card
from ..cards.sorting import SORTABLE_FIELD_TYPES
from ..products.models import Product
from ..tasks.models import Task
from ..tasks.today import now as current_instant
from .dates import day_compact, format_day, format_moment, moment_compact, user_zone
from .numbers import format_money as money_in_locale
from .numbers import format_number

#: The vendored SortableJS (static/Sortable.min.js; see static/NOTICE.txt).
SORTABLE_VERSION = "1.15.7"
#: How many of a product's fields are its key fields (list columns, board cards).
KEY_FIELDS = 3
#: Over this many cards a product's list offers no sort by its key fields: such a sort reads
#: every card's JSON (docs/web.md has the figures at 100,000 cards).
FIELD_SORT_LIMIT = 20_000
AVATAR_COLOURS = 8


@dataclass(frozen=True)
class Totals:
    count: int
    amount: Decimal | None


@dataclass(frozen=True)
class NextTask:
    """The card's next open task as the board shows it: a short date and whether it is late."""

    text: str
    overdue: bool


def money_field(product: Product) -> dict[str, Any] | None:
    """The product's first money field (its cards' value: summed per column), if any."""
    return next((field for field in product.fields if field["type"] == "money"), None)


def key_fields(product: Product) -> list[dict[str, Any]]:
    """The product's key fields: its required fields, then the others in their order, up to
    ``KEY_FIELDS``; only fields a list can be sorted by (not multiple choice or checkbox)."""
    usable = [field for field in product.fields if field["type"] in SORTABLE_FIELD_TYPES]
    ordered = [field for field in usable if field.get("required")]
    ordered += [field for field in usable if not field.get("required")]
    return ordered[:KEY_FIELDS]


def field_sorts_offered(session: Session, product: Product) -> bool:
    """Whether the list offers sorts by key fields: the product has at most
    ``FIELD_SORT_LIMIT`` cards (counted from an index, and no further than the limit)."""
    some = select(Card.id).where(Card.product_id == product.id).limit(FIELD_SORT_LIMIT + 1)
    return (session.scalar(select(func.count()).select_from(some.subquery())) or 0) <= (
        FIELD_SORT_LIMIT
    )


def column_totals(
    session: Session, product: Product, viewer: User, money: dict[str, Any] | None
) -> dict[int, Totals]:
    """Per status: how many cards the viewer sees there, and the sum of their money field.

    The sum is of ``cards.amount_cents`` (the first money field's value, kept by every write:
    ``cards/amount.py``). The statement names only what ``ix_cards_status_next_task_due``
    carries, so it is read from that index alone: the product by its statuses (a status is one
    product's), and the access rule as it stands for this product (none, or own cards).
    """
    scope = scope_of(session, viewer)
    conditions: list[ColumnElement[bool]] = [
        Card.status_id.in_([status.id for status in product.statuses]),
        Card.trashed_at.is_(None),
    ]
    if not (scope.everything or product.id in scope.products):
        conditions.append(scope.owns() if product.id in scope.own_cards_products else false())
    amount = func.sum(Card.amount_cents) if money else null()
    query = select(Card.status_id, func.count(), amount).where(*conditions)
    totals = {}
    for status_id, count, cents in session.execute(query.group_by(Card.status_id)):
        value = None
        if money is not None:
            value = Decimal(int(cents or 0)) / 100
        totals[status_id] = Totals(count, value)
    return totals


def format_money(amount: Decimal | None, currency: str | None) -> str:
    """A sum in the reader's locale: ``1.250,00 lei`` (ro), ``RON 1,250.00`` (en); see
    web/numbers.py."""
    return money_in_locale(amount, currency)


def field_text(definition: dict[str, Any], value: Any) -> str:
    """A field's value in a few words, for a card on the board or a cell of the list."""
    if value is None or value == "" or value == []:
        return ""
    kind = definition["type"]
    try:
        if kind == "money":
            return format_money(Decimal(str(value)), definition.get("currency"))
        if kind == "date":
            return format_day(date.fromisoformat(str(value)), "day")
        if kind == "datetime":
            return format_moment(value, "moment")
        if kind == "number":
            return format_number(float(value))
    except (ValueError, ArithmeticError):
        pass  # a value stored before the field's type changed: shown as it is
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def initials(name: str | None) -> str:
    words = [word for word in (name or "").replace(".", " ").split() if word[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


def avatar_colour(user_id: int | None) -> int:
    return (user_id or 0) % AVATAR_COLOURS


def next_tasks(session: Session, cards: list[Card]) -> dict[int, NextTask]:
    """The next open task of each card shown (one query): its date in the viewer's zone, and
    whether its deadline has passed (an all-day task once its day has ended there)."""
    due = {card.id: card.next_task_due for card in cards if card.next_task_due is not None}
    if not due:
        return {}
    zone = user_zone()
    now = current_instant()  # the app's CLOCK where tests fix time
    today = now.astimezone(zone).date()
    rows = session.execute(
        select(Task.card_id, Task.due, Task.all_day, Task.due_date)
        .join(Card, Card.id == Task.card_id)
        .where(Task.card_id.in_(due), Task.status == "open", Task.due == Card.next_task_due)
    )
    found: dict[int, tuple[datetime, bool, date | None]] = {}
    for card_id, task_due, all_day, due_date in rows:
        if card_id not in found or all_day:  # at the same instant, the all-day task decides
            found[card_id] = (task_due, all_day, due_date)
    shown = {}
    for card_id, moment in due.items():
        task_due, all_day, due_date = found.get(card_id, (moment, False, None))
        if all_day and due_date is not None:
            text = day_compact(due_date, now=now, zone=zone)
            overdue = due_date < today
        else:
            text = moment_compact(task_due, now=now, zone=zone)
            overdue = task_due < now
        shown[card_id] = NextTask(text, overdue)
    return shown
