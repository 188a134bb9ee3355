"""users get a language: the web UI's and their e-mails' (empty: the browser's choice)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # Not in a batch: on SQLite a batch copies the table, and dropping the old one would
    # delete every row that refers to a user (sessions and tokens cascade).
    op.drop_column("users", "language")
