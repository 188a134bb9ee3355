"""card files: ``card_files`` rows naming contents kept by SHA-256 in the file storage

Revision ID: 0008
Revises: 0011
Create Date: 2026-12-05 21:45:00
"""

from collections.abc import Sequence

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_files_card_id_cards"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_card_files_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_files")),
    )
    with op.batch_alter_table("card_files", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_files_card_id_created_at_id", ["card_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_card_files_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    # The stored bytes stay in CARDCRM_FILES_DIR; remove that folder by hand if wanted.
    with op.batch_alter_table("card_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_files_sha256"))
        batch_op.drop_index("ix_card_files_card_id_created_at_id")
    op.drop_table("card_files")
