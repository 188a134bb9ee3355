"""A product's cards as CSV: the columns, custom field values as cells, and the streamed export.

The export reads cards in keyset batches (by id) as plain rows, never as ORM objects, so it
runs in constant memory however many cards the product has.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from cardcrm.common.timeutil import isoformat_z
from cardcrm.common.translate import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..access import Scope
from ..auth.models import User
from ..cards.models import Card
from ..cards.queries import filter_conditions
from ..contacts.models import Contact
from ..products.models import Product
from .parsing import LIST_SEPARATOR, fold_name
from .writing import stream_rows

#: Prefix of a custom field's column: ``field:<key>`` (never clashes with the card's own).
FIELD_PREFIX = "field:"
LEADING_COLUMNS = ("id", "title", "status", "status_group", "owner", "contact", "contact_id")
TRAILING_COLUMNS = ("created_at", "updated_at", "next_task_due", "version")
#: Columns an export writes that an import reads but does not write.
READ_ONLY_COLUMNS = ("status_group", "created_at", "updated_at", "next_task_due")
EXPORT_BATCH_SIZE = 1000

TRUE_WORDS = ("true", "yes", "y", "1", "x")
FALSE_WORDS = ("false", "no", "n", "0")


def header(product: Product) -> list[str]:
    fields = [FIELD_PREFIX + definition["key"] for definition in product.fields]
    return [*LEADING_COLUMNS, *fields, *TRAILING_COLUMNS]


def column_resolver(product: Product) -> Callable[[str], str | None]:
    """What a header cell of an imported file names: one of the card's own columns, or a
    custom field by ``field:<key>``, its key or its label (ignoring case); ``None`` if none.
    The card's own columns come first: a field keyed ``status`` is ``field:status``."""
    own = {*LEADING_COLUMNS, *TRAILING_COLUMNS}
    keys = {definition["key"] for definition in product.fields}
    labels: dict[str, list[str]] = {}
    for definition in product.fields:
        labels.setdefault(fold_name(definition.get("label", "")), []).append(definition["key"])

    def resolve(name: str) -> str | None:
        folded = fold_name(name)
        if folded in own:
            return folded
        key = folded.removeprefix(FIELD_PREFIX).strip()
        if key not in keys and len(labels.get(folded, [])) == 1:
            key = labels[folded][0]  # a label two fields share names neither
        return FIELD_PREFIX + key if key in keys else None

    return resolve


def export_conditions(
    product: Product,
    scope: Scope,
    args: dict[str, Any] | None = None,
    field_filters: dict[str, str] | None = None,
) -> list[ColumnElement[bool]]:
    """The cards to export: the card list's filters (default: not trashed) and what the
    caller may see. Raises ``Invalid`` for a bad filter, before anything is streamed."""
    conditions = filter_conditions(product, args or {}, field_filters or {})
    visible = scope.cards_condition()
    if visible is not None:
        conditions.append(visible)
    return conditions


def export_cards(
    sessions: Callable[[], Session],
    product: Product,
    conditions: list[ColumnElement[bool]],
    *,
    bom: bool = False,
    batch_size: int | None = None,
) -> Iterator[str]:
    """The CSV text of the cards matching ``conditions``, by id, one piece per batch.

    The pieces are read through a session of their own (from ``sessions``), closed when the
    last piece is out, since a streamed response outlives the request's session.
    """
    batch_size = batch_size or EXPORT_BATCH_SIZE
    statuses = {status.id: (status.name, status.group) for status in product.statuses}
    definitions = list(product.fields)
    query = (
        select(
            Card.id,
            Card.title,
            Card.status_id,
            User.email,
            Contact.name,
            Card.contact_id,
            Card.fields,
            Card.created_at,
            Card.updated_at,
            Card.next_task_due,
            Card.version,
        )
        .outerjoin(User, User.id == Card.owner_id)
        .outerjoin(Contact, Contact.id == Card.contact_id)
        .where(*conditions)
        .order_by(Card.id)
        .limit(batch_size)
    )

    def cells(row: Any) -> list[Any]:
        values = row.fields or {}
        return [
            row.id,
            row.title,
            *statuses[row.status_id],
            row.email or "",
            row.name or "",
            row.contact_id or "",
            *(cell_of(definition, values.get(definition["key"])) for definition in definitions),
            isoformat_z(row.created_at),
            isoformat_z(row.updated_at),
            isoformat_z(row.next_task_due) or "",
            row.version,
        ]

    return stream_rows(sessions, query, Card.id, header(product), cells, bom, batch_size)


def cell_of(definition: dict[str, Any], value: Any) -> str:
    """A stored field value as the text of its cell (``value_of`` reads it back)."""
    if value is None:
        return ""
    kind = definition["type"]
    if kind == "multichoice":
        return LIST_SEPARATOR.join(str(item) for item in value)
    if kind == "checkbox":
        return "true" if value else "false"
    if kind == "number" and isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def value_of(definition: dict[str, Any], text: str) -> Any:
    """A cell's text as a value for ``clean_values`` (``None``: empty); ``ValueError`` if bad."""
    kind = definition["type"]
    if not text.strip():
        return None
    if kind == "text":
        return text
    text = text.strip()
    if kind == "multichoice":
        return [item.strip() for item in text.split(";") if item.strip()]
    if kind == "checkbox":
        if text.casefold() in TRUE_WORDS:
            return True
        if text.casefold() in FALSE_WORDS:
            return False
        raise ValueError(_("%(text)s is not a yes/no value; write true or false.", text=repr(text)))
    if kind in ("number", "money"):
        return _decimal_text(text)
    return text


def _decimal_text(text: str) -> str:
    # Spreadsheets in many countries write "1 250,50"; the API's form is "1250.50".
    text = "".join(text.split()).replace("\u202f", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    elif "," in text:
        text = text.replace(",", "")
    try:
        if not math.isfinite(float(text)):
            raise ValueError
    except ValueError as error:
        raise ValueError(_("%(text)s is not a number.", text=repr(text))) from error
    return text
