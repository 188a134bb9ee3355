"""A card's value in its product's money field, kept as a number: ``cards.amount_cents``.

The board sums the money field per column and the reports sum it for the cards won and lost.
Read out of each card's JSON that is a parse per card: 1-3 s at 100,000 cards. So every write
keeps the value beside the JSON, as whole cents (an integer: exact sums on SQLite too), and
the status index (``ix_cards_status_next_task_due``) carries what the board's sums read
(docs/benchmarks.md, "Board totals and yearly outcomes").

Decision (issue 16): a column kept by the writes, not a cache or a reshaped query. A query
over the JSON stays a read of every card whatever its shape; a cache would need invalidating
by every card write and still pays the full read after each. The column is written in the
same statement as the card (a new card's insert, an edit's ORM flush, CSV import), from the
product's fields read under a share lock on the product's row; changing which field is the
money field takes that row's lock and recomputes the product's cards in the same transaction
(``recompute_amounts``), so no card write in between keeps a value of the old field.

The rule (the same on SQLite and PostgreSQL): a value that is a number (a decimal string as
stored, ``"1250.00"``, or a JSON number) counts, rounded half away from zero to the cent;
anything else (empty, missing, text left from before a field's type changed, a number too
big for the column) counts as nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..products.models import Product

#: The text of a number as it is stored (and as PostgreSQL's ``->>`` writes a JSON number).
NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
#: Values at or over this many cents count as nothing (they would not fit the column).
CENTS_LIMIT = 10**17
CENT = Decimal("0.01")
BATCH = 2000


def money_key(fields: list[dict[str, Any]] | None) -> str | None:
    """The key of the first money field among a product's field definitions."""
    return next((field["key"] for field in fields or [] if field.get("type") == "money"), None)


def amount_cents(values: Mapping[str, Any] | None, key: str | None) -> int | None:
    """A card's ``values[key]`` in whole cents, or None when it is no number (see above)."""
    if key is None or not values:
        return None
    value = values.get(key)
    if isinstance(value, bool) or value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if not isinstance(value, (str, int, float)) or not NUMBER.match(text.strip()):
        return None
    try:
        cents = int(Decimal(text.strip()).quantize(CENT, rounding=ROUND_HALF_UP) * 100)
    except (InvalidOperation, ValueError):  # an exponent too large to quantize
        return None
    return cents if abs(cents) < CENTS_LIMIT else None


def product_money_key(connection: Connection, product_id: int) -> str | None:
    """The product's money field key, read under a share lock on the product's row
    (PostgreSQL): a change of the product's fields waits for this write, or this write for
    it, so a card never keeps a value computed from fields another transaction replaced."""
    query = select(Product.fields).where(Product.id == product_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return money_key(connection.execute(query).scalar())
