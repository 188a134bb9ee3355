"""app passwords for the CalDAV server, and the failed sign-ins its throttle counts

A phone or a computer signs in to ``/calendar/dav/`` with its owner's e-mail and a password
made for that device alone (``app_passwords``, only its SHA-256 kept); failed sign-ins are
kept for the throttle's window (``dav_login_failures``), as core keeps failed logins.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:40:00
"""

from collections.abc import Sequence

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_passwords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_passwords")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_app_passwords_secret_hash")),
    )
    with op.batch_alter_table("app_passwords", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_passwords_user_id"), ["user_id"], unique=False)

    op.create_table(
        "dav_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dav_login_failures")),
    )
    with op.batch_alter_table("dav_login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_dav_login_failures_address_at", ["address", "at"], unique=False)
        batch_op.create_index("ix_dav_login_failures_at", ["at"], unique=False)
        batch_op.create_index(
            "ix_dav_login_failures_email_address_at", ["email", "address", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dav_login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_dav_login_failures_email_address_at")
        batch_op.drop_index("ix_dav_login_failures_at")
        batch_op.drop_index("ix_dav_login_failures_address_at")
    op.drop_table("dav_login_failures")
    with op.batch_alter_table("app_passwords", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_passwords_user_id"))
    op.drop_table("app_passwords")
