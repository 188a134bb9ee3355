"""The card list's other orders (``?sort=``): by title, status, owner, next task, last update
or a custom field, ascending or (with a leading ``-``) descending.

The default, ``next_task``, is the contract's order (``queries._page``). Every other sort reads
in two parts: the cards with a value in the sorted column, by that value (ties by id, in the
same direction), then the cards without one, by id. The cursor carries the sort, the part and
the last card's value and id, so each page is a range read with the same cost as the first.

Sorts by ``updated`` and ``next_task`` are served by the indexes on ``(product_id, updated_at,
id)`` and ``(product_id, next_task_due, id)``; the others (title, status, owner, fields) sort
the product's cards that match the filters (docs/web.md gives the measured cost at 100,000
cards).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.translate import N_
from cardcrm.common.translate import gettext as _
from sqlalchemy import Float, Select, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..auth.models import User
from ..products.models import Product
from .models import Card

#: The contract's order: next open deadline first, cards without one last.
DEFAULT_SORT = "next_task"
#: The card columns a list may be sorted by (``field.<key>`` adds the product's fields).
COLUMN_SORTS = ("title", "status", "owner", "next_task", "updated")
#: Field types a list may be sorted by (a list of choices or a checkbox has no useful order).
SORTABLE_FIELD_TYPES = (
    "text",
    "number",
    "money",
    "date",
    "datetime",
    "choice",
    "email",
    "phone",
    "url",
)
SORT_PATTERN = re.compile(r"^-?(title|status|owner|next_task|updated|field\.[a-z][a-z0-9_]{0,62})$")
SORT_DOC = (
    "Order: title, status, owner, next_task (the default order), updated, or field.<key> "
    "(a custom field that is not a multiple choice or a checkbox); a leading '-' reverses it. "
    "Cards without a value come last either way."
)
#: A JSON number as PostgreSQL's ``->>`` writes it (anything else is no number: no cast error).
NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
NOT_OURS = N_("Not a cursor this API gave out.")
SORT_ERROR = N_(
    "Not a sort: use title, status, owner, next_task, updated or field.<key>, "
    "with a '-' before it to reverse the order."
)


@dataclass(frozen=True)
class Sort:
    """A parsed ``?sort=``: the value to order by, its kind (for the cursor) and direction."""

    name: str
    descending: bool
    value: Any  # a column or an SQL expression
    kind: str  # "text", "number", "integer" or "instant"
    joins_owner: bool = False


def parse_sort(session: Session, product: Product, raw: str) -> Sort:
    """The sort ``raw`` names, for this product (an unknown field or column is a 422)."""
    if not SORT_PATTERN.match(raw):
        raise Invalid({"sort": [SORT_ERROR]})
    descending = raw.startswith("-")
    name = raw.lstrip("-")
    if name == "title":
        return Sort(name, descending, func.lower(Card.title), "text")
    if name == "owner":
        return Sort(name, descending, func.lower(User.name), "text", joins_owner=True)
    if name == "status":
        order = {status.id: index for index, status in enumerate(product.statuses)}
        return Sort(
            name, descending, case(order, value=Card.status_id, else_=len(order)), "integer"
        )
    if name == "next_task":
        return Sort(name, descending, Card.next_task_due, "instant")
    if name == "updated":
        return Sort(name, descending, Card.updated_at, "instant")
    return _field_sort(session, product, name, descending)


def _field_sort(session: Session, product: Product, name: str, descending: bool) -> Sort:
    key = name.split(".", 1)[1]
    definition = product.field(key)
    if definition is None:
        raise Invalid({"sort": [_("The product has no field %(key)s.", key=repr(key))]})
    kind = definition["type"]
    if kind not in SORTABLE_FIELD_TYPES:
        raise Invalid(
            {"sort": [_("A list cannot be sorted by a field of type %(type)s.", type=kind)]}
        )
    text = Card.fields[key].as_string()
    if kind in ("number", "money"):
        return Sort(name, descending, numeric_value(session, text), "number")
    if kind == "choice":
        order = {choice: index for index, choice in enumerate(definition.get("choices") or [])}
        return Sort(name, descending, case(order, value=text, else_=None), "integer")
    if kind in ("date", "datetime"):  # stored as ISO text, which sorts by time
        return Sort(name, descending, text, "text")
    return Sort(name, descending, func.lower(text), "text")


def numeric_value(session: Session, text: ColumnElement[Any]) -> ColumnElement[Any]:
    """A stored number or money value as a float; text that is no number counts as none.

    A field's type may change after values were stored, and PostgreSQL refuses to cast text
    that is no number, so it casts only what looks like one (SQLite's cast never fails).
    """
    if session.get_bind().dialect.name == "postgresql":
        return case((text.op("~")(literal(NUMBER)), cast(text, Float)), else_=None)
    return cast(text, Float)


def sorted_page(
    session: Session,
    product: Product,
    conditions: list[ColumnElement[bool]],
    raw_sort: str,
    limit: int,
    cursor: str | None,
    columns: tuple[Any, ...] | None = None,
) -> tuple[list[Any], str | None]:
    """A page of the cards matching ``conditions`` in the order ``raw_sort`` names: ORM cards,
    or with ``columns`` (``fast.columns``) rows of them, each with the sort's value last (the
    API's list turns them into the schema's dicts without ORM objects)."""
    sort = parse_sort(session, product, raw_sort)
    position = decode_cursor(cursor) or {"sort": raw_sort, "part": "value"}
    if position.get("sort") != raw_sort:
        raise Invalid({"cursor": [_("The cursor belongs to another sort.")]})
    base: Select[Any]
    card_of: Callable[[Any], Any]
    if columns is None:
        base, card_of = select(Card, sort.value), itemgetter(0)
    else:  # the row itself: its ``id`` is the card's, the sort's value last
        base, card_of = select(*columns, sort.value).select_from(Card), _itself
    if sort.joins_owner:
        base = base.outerjoin(User, User.id == Card.owner_id)
    base = base.where(*conditions)
    by_id = Card.id.desc() if sort.descending else Card.id.asc()
    cards: list[Any] = []
    if position.get("part") == "value":
        query = base.where(sort.value.is_not(None))
        if "id" in position:
            query = query.where(_after(sort, _value_of(sort, position), _id_of(position)))
        order = sort.value.desc() if sort.descending else sort.value.asc()
        rows = session.execute(query.order_by(order, by_id).limit(limit + 1)).all()
        if len(rows) > limit:
            last = rows[limit - 1]
            page = [card_of(row) for row in rows[:limit]]
            return page, _cursor(raw_sort, "value", card_of(last).id, last[-1])
        cards = [card_of(row) for row in rows]
        position = {"sort": raw_sort, "part": "none"}
    if position.get("part") != "none":
        raise Invalid({"cursor": [NOT_OURS]})
    query = base.where(sort.value.is_(None))
    if "id" in position:
        last_id = _id_of(position)
        query = query.where(Card.id < last_id if sort.descending else Card.id > last_id)
    rows = session.execute(query.order_by(by_id).limit(limit - len(cards) + 1)).all()
    if len(cards) == limit and rows:  # the page ends with the last card that has a value
        return cards, encode_cursor({"sort": raw_sort, "part": "none"})
    cards += [card_of(row) for row in rows]
    if len(cards) > limit:
        return cards[:limit], _cursor(raw_sort, "none", cards[limit - 1].id, None)
    return cards, None


def _itself(row: Any) -> Any:
    return row


def _after(sort: Sort, value: Any, card_id: int) -> ColumnElement[bool]:
    if sort.descending:
        return or_(sort.value < value, and_(sort.value == value, Card.id < card_id))
    return or_(sort.value > value, and_(sort.value == value, Card.id > card_id))


def _cursor(raw_sort: str, part: str, card_id: int, value: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, (int, float)) or value is None or isinstance(value, str):
        pass
    else:
        value = float(value)  # a Decimal
    return encode_cursor({"sort": raw_sort, "part": part, "id": card_id, "value": value})


def _id_of(position: dict[str, Any]) -> int:
    card_id = position.get("id")
    if not isinstance(card_id, int) or isinstance(card_id, bool) or abs(card_id) >= 2**63:
        raise Invalid({"cursor": [NOT_OURS]})
    return card_id


def _value_of(sort: Sort, position: dict[str, Any]) -> Any:
    value = position.get("value")
    if sort.kind == "text" and isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise Invalid({"cursor": [NOT_OURS]})
    if sort.kind == "integer" and isinstance(value, int) and abs(value) < 2**31:
        return value
    if sort.kind == "number" and isinstance(value, (int, float)):
        return float(value)
    if sort.kind == "instant" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    raise Invalid({"cursor": [NOT_OURS]})
