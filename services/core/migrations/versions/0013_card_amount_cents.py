"""cards get ``amount_cents``: their product's money field as a number, for the sums

The board sums the money field per status and the reports sum it for the cards won and lost;
read from each card's JSON that took seconds at 100,000 cards (issue 16). Filled here for the
cards there are (the same rule as ``cards.amount``, copied so this migration does not change
when that code does); every write keeps it from then on. The status index also carries what
the board's sums read (trash, owner for members limited to own cards, the value).

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-06 00:40:00
"""

import json
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
#: ix_cards_status_next_task_due, made to carry what the board's sums read as well: a second
#: index on (product, status...) took the board columns' ordered reads away from this one on
#: SQLite (a sort of every card of the status instead of reading the first few).
ORDER = ["status_id", "next_task_due", "updated_at", "id"]
CARRIED = ["trashed_at", "owner_id", "amount_cents"]


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _cents(values: Any, key: str | None) -> int | None:
    values = _loads(values)
    if key is None or not isinstance(values, dict):
        return None
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value).strip()
    if not NUMBER.match(text):
        return None
    try:
        cents = int(Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)
    except (InvalidOperation, ValueError):
        return None
    return cents if abs(cents) < 10**17 else None


def upgrade() -> None:
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amount_cents", sa.BigInteger(), nullable=True))
    connection = op.get_bind()
    products = sa.table("products", sa.column("id", sa.Integer), sa.column("fields", sa.JSON))
    cards = sa.table(
        "cards",
        sa.column("id", sa.Integer),
        sa.column("product_id", sa.Integer),
        sa.column("fields", sa.JSON),
        sa.column("amount_cents", sa.BigInteger),
    )
    keys = {}
    for product_id, fields in connection.execute(sa.select(products.c.id, products.c.fields)):
        money = [field for field in _loads(fields) or [] if field.get("type") == "money"]
        keys[product_id] = money[0]["key"] if money else None
    last = 0
    while True:
        rows = connection.execute(
            sa.select(cards.c.id, cards.c.product_id, cards.c.fields)
            .where(cards.c.id > last)
            .order_by(cards.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        values = [
            {"b_id": row.id, "b_cents": cents}
            for row in rows
            if (cents := _cents(row.fields, keys.get(row.product_id))) is not None
        ]
        if values:
            connection.execute(
                sa.update(cards)
                .where(cards.c.id == sa.bindparam("b_id"))
                .values(amount_cents=sa.bindparam("b_cents")),
                values,
            )
        last = rows[-1].id
    op.drop_index("ix_cards_status_next_task_due", table_name="cards")
    op.create_index("ix_cards_status_next_task_due", "cards", ORDER + CARRIED)


def downgrade() -> None:
    op.drop_index("ix_cards_status_next_task_due", table_name="cards")
    op.create_index("ix_cards_status_next_task_due", "cards", ORDER)
    # Not in a batch: on SQLite a batch copies the table, and dropping the old one would
    # cascade to every card's tasks and history. SQLite (3.35+) drops a column in place.
    op.drop_column("cards", "amount_cents")
