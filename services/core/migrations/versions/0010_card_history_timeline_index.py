"""card_history gets an index on (card_id, at, id) for the card's timeline

The timeline reads a card's history newest first by time; without this index PostgreSQL
reads every row of the card and sorts them on each page.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 21:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("card_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_history_card_id_at_id", ["card_id", "at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("card_history", schema=None) as batch_op:
        batch_op.drop_index("ix_card_history_card_id_at_id")
