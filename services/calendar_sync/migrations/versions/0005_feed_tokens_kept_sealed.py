"""feed tokens are kept encrypted too, so their owner can see the feed address again

Tokens made before stay unreadable (``token_sealed`` null): their address works until its
owner makes a new one, which is then kept.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feed_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed_tokens", schema=None) as batch_op:
        batch_op.drop_column("token_sealed")
