"""history words agree with the event feed: card.trashed becomes card.deleted

Moving a card to the trash was recorded in the card's history as ``card.trashed`` and on the
event feed as ``card.deleted``. Events are a public contract, so history takes the event's word
(docs/events.md); this rewrites the rows written before. Plain UPDATEs: the same on SQLite and
PostgreSQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: old history word → new; frozen here, whatever the code says later
RENAMED = {"card.trashed": "card.deleted"}

card_history = sa.table("card_history", sa.column("type", sa.String(64)))


def upgrade() -> None:
    for old, new in RENAMED.items():
        op.execute(card_history.update().where(card_history.c.type == old).values(type=new))


def downgrade() -> None:
    for old, new in RENAMED.items():
        op.execute(card_history.update().where(card_history.c.type == new).values(type=old))
