"""notification e-mail addresses are verified: preferences.email_verified_at, and the
messages that ask a new address to confirm (email_verifications, tokens stored hashed)

Addresses saved before this revision count as unverified: until their owner confirms them
(``POST /api/v1/preferences/email/resend`` sends the link), notification e-mails go to the
account's own address.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 18:30:00
"""

from collections.abc import Sequence

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_verifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("used_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["preferences.user_id"],
            name=op.f("fk_email_verifications_user_id_preferences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verifications")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_verifications_token_hash")),
    )
    with op.batch_alter_table("email_verifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_email_verifications_user", ["user_id", "created_at"], unique=False
        )

    with op.batch_alter_table("preferences", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "email_verified_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("preferences", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")
    op.drop_table("email_verifications")
