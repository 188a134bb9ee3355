"""a status's cards without a deadline, newest change first: (status_id, updated_at, id)
WHERE next_task_due IS NULL

The card list (and a board's column, ``?status_id=``) lists a status's cards with a deadline
first, then those without, most recently updated first. PostgreSQL could not take that second
order from ``ix_cards_status_next_task_due`` (``next_task_due IS NULL`` is not an equality to
its planner), so every page of it sorted all of the status's cards without a deadline: 4 ms for
8,000 of them, growing with the status (Won, Lost). This partial index holds exactly them in
that order: a page reads its own entries (0.1 ms). SQLite already read them in order from the
status index; it gets the index too (the models describe one schema), small since partial.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDATED = sa.text("next_task_due IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_cards_status_undated",
        "cards",
        ["status_id", "updated_at", "id"],
        postgresql_where=UNDATED,
        sqlite_where=UNDATED,
    )


def downgrade() -> None:
    op.drop_index("ix_cards_status_undated", table_name="cards")
