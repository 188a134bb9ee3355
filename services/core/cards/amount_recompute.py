"""Recomputing the money amounts of a product's cards when its money field changes
(``amount.py`` says why cards keep ``amount_cents``)."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from .amount import BATCH, amount_cents
from .models import Card


def recompute_amounts(connection: Connection, product_id: int, key: str | None) -> None:
    """Set ``amount_cents`` of every card of the product from its field ``key``.

    Run after the product's row was updated in the same transaction (the caller holds its
    lock), so card writes from then on wait and then read the new key.
    """
    last = 0
    statement = (
        update(Card).where(Card.id == bindparam("b_id")).values(amount_cents=bindparam("b_cents"))
    )
    while True:
        rows = connection.execute(
            select(Card.id, Card.fields, Card.amount_cents)
            .where(Card.product_id == product_id, Card.id > last)
            .order_by(Card.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        changed = [
            {"b_id": row.id, "b_cents": cents}
            for row in rows
            if (cents := amount_cents(row.fields, key)) != row.amount_cents
        ]
        if changed:
            connection.execute(statement, changed)
        last = rows[-1].id
