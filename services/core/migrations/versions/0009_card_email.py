"""e-mail to the card: each card's address secret, and the e-mails filed on cards

``cards.email_secret`` is the secret part of the card's address (``card-<id>-<secret>@...``);
existing cards get one here, so every card has an address at once. ``card_emails`` holds the
messages, one row per card they reached, unique per (card, Message-ID).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:40:00
"""

import base64
import secrets
from collections.abc import Sequence

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def _secret() -> str:
    # As cardcrm.core.mail.address.new_secret (a migration keeps its own copy of what it runs).
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()[:20]


def upgrade() -> None:
    # Plain ALTER TABLE, never batch mode's copy of the table: on SQLite, dropping the old
    # ``cards`` would cascade to every card's tasks and history. The column stays nullable in
    # the schema for the same reason; every row has a secret from here on (the model's default).
    op.add_column("cards", sa.Column("email_secret", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    cards = sa.table("cards", sa.column("id", sa.Integer), sa.column("email_secret", sa.String))
    last = 0
    while True:
        ids = list(
            connection.scalars(
                sa.select(cards.c.id).where(cards.c.id > last).order_by(cards.c.id).limit(BATCH)
            )
        )
        if not ids:
            break
        connection.execute(
            cards.update().where(cards.c.id == sa.bindparam("card_id")),
            [{"card_id": card_id, "email_secret": _secret()} for card_id in ids],
        )
        last = ids[-1]

    op.create_table(
        "card_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("from_address", sa.Text(), nullable=False),
        sa.Column("to", sa.JSON(), nullable=False),
        sa.Column("cc", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("file_ids", sa.JSON(), nullable=False),
        sa.Column("received_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_emails_card_id_cards"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_emails")),
        sa.UniqueConstraint("card_id", "dedupe_key", name=op.f("uq_card_emails_card_id")),
    )
    op.create_index("ix_card_emails_card_received", "card_emails", ["card_id", "received_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_card_emails_card_received", table_name="card_emails")
    op.drop_table("card_emails")
    op.drop_column("cards", "email_secret")  # SQLite 3.35+ drops a column in place
