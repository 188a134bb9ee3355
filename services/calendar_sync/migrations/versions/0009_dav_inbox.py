"""CalDAV writes: each user's inbox card, the UIDs and notes of the objects they wrote, and
the SUMMARY and DESCRIPTION last pushed to a CalDAV calendar

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 03:45:00
"""

from collections.abc import Sequence

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dav_inboxes",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("created_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_dav_inboxes")),
    )
    op.create_table(
        "dav_objects",
        sa.Column("task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=True),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_dav_objects")),
    )
    op.create_index("ix_dav_objects_user_id_uid", "dav_objects", ["user_id", "uid"], unique=True)
    with op.batch_alter_table("remote_todos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("remote_todos", schema=None) as batch_op:
        batch_op.drop_column("description")
        batch_op.drop_column("summary")
    op.drop_index("ix_dav_objects_user_id_uid", table_name="dav_objects")
    op.drop_table("dav_objects")
    op.drop_table("dav_inboxes")
