"""notes on cards

A card's notes: the Markdown body, its sanitised HTML, its folded text for the card list's
``q`` search, and the users it mentions.

Revision ID: 0007
Revises: 0012
Create Date: 2026-12-05 21:40:00
"""

from collections.abc import Sequence

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("created_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_notes_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_notes_card_id_cards"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_notes_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(
        "ix_notes_card_id_created_at_id", "notes", ["card_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_notes_product_id_card_id", "notes", ["product_id", "card_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notes_product_id_card_id", table_name="notes")
    op.drop_index("ix_notes_card_id_created_at_id", table_name="notes")
    op.drop_table("notes")
