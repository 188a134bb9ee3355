"""the CalDAV server's per-user change log, for sync tokens that survive restarts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dav_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dav_changes")),
    )
    op.create_index("ix_dav_changes_user_id_id", "dav_changes", ["user_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dav_changes_user_id_id", table_name="dav_changes")
    op.drop_table("dav_changes")
