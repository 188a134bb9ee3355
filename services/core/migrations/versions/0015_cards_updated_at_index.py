"""cards get an index on (updated_at, id): global search reads the newest cards first

Search answers the newest matching cards. With this index it reads the most recently changed
cards in order and stops once it has enough matches, instead of matching, then sorting, every
card that holds a common word (``core/search/service.py``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 01:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cards_updated_at", "cards", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cards_updated_at", table_name="cards")
