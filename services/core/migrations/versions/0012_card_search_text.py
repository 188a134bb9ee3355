"""cards get ``search_text``: their title and field values folded, for search

Filled here for the cards there are (the same folding as ``cards.search_text``, copied so this
migration does not change when that code does); every write keeps it from then on.

Revision ID: 0012
Revises: 0006
Create Date: 2026-12-05 22:00:00
"""

import json
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _search_text(title: str | None, fields: Any) -> str:
    if isinstance(fields, str):
        fields = json.loads(fields)
    parts = [title or ""]
    for value in (fields or {}).values():
        if isinstance(value, list):
            parts.extend(str(item) for item in value if item is not None)
        elif value is not None and not isinstance(value, bool):
            parts.append(str(value))
    return _fold(" ".join(parts))


def upgrade() -> None:
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))
    connection = op.get_bind()
    cards = sa.table(
        "cards",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("fields", sa.JSON),
        sa.column("search_text", sa.Text),
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(cards.c.id, cards.c.title, cards.c.fields)
            .where(cards.c.id > last)
            .order_by(cards.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            sa.update(cards)
            .where(cards.c.id == sa.bindparam("b_id"))
            .values(search_text=sa.bindparam("b_text")),
            [{"b_id": row.id, "b_text": _search_text(row.title, row.fields)} for row in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    # Not in a batch: on SQLite a batch copies the table, and dropping the old one would
    # cascade to every card's tasks and history. SQLite (3.35+) drops a column in place.
    op.drop_column("cards", "search_text")
