"""the feed cursor holds any id of core's events (BIGINT, like core's events.id)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feed_cursors", schema=None) as batch_op:
        batch_op.alter_column(
            "last_id", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("feed_cursors", schema=None) as batch_op:
        batch_op.alter_column(
            "last_id", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
