"""failed logins, for the login throttle

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 07:20:00
"""

from collections.abc import Sequence

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_address_at", ["address", "at"], unique=False)
        batch_op.create_index("ix_login_failures_at", ["at"], unique=False)
        batch_op.create_index(
            "ix_login_failures_email_address_at", ["email", "address", "at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("login_failures")
