"""calendar sync follows core's access rules: card owners and product members

Calendars now show a user only the tasks on cards they may see: the mirror keeps each card's
``owner_id`` and the products' members (``product_members``, as the notifications service
keeps them), and each CalDAV account whether its to-dos were chosen for an admin
(``shown_as_admin``; ``NULL`` on existing accounts, so their first round checks every to-do).

Neither owners nor memberships are in the mirror yet, so the feed cursor goes back to 0: the
worker reads all of core's events again and learns them. Replaying is idempotent: a task
event older than the version the mirror holds changes nothing, card and membership events
leave the latest state once the replay is through. Until the mirror is back where it was
(the cursor kept as ``calendar_sync.replay_until``), it holds the memberships of the past:
feeds answer 503 and no CalDAV round runs (``mirror.catching_up``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLLOWER = "calendar_sync"
REPLAY_MARK = "calendar_sync.replay_until"

cursors = sa.table("feed_cursors", sa.column("name", sa.String), sa.column("last_id", sa.Integer))


def upgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite adds and drops such columns in place):
    # batch mode would copy caldav_accounts, and dropping the old copy would cascade to the
    # tables that refer to it.
    op.add_column("mirror_cards", sa.Column("owner_id", sa.Integer(), nullable=True))
    op.add_column("caldav_accounts", sa.Column("shown_as_admin", sa.Boolean(), nullable=True))

    op.create_table(
        "product_members",
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("own_cards_only", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "user_id", name=op.f("pk_product_members")),
    )
    with op.batch_alter_table("product_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_members_user_id"), ["user_id"], unique=False)

    # Read core's events again from the start; remember how far the mirror had come.
    connection = op.get_bind()
    last_id = connection.scalar(sa.select(cursors.c.last_id).where(cursors.c.name == FOLLOWER))
    if last_id:
        op.execute(cursors.delete().where(cursors.c.name == REPLAY_MARK))
        op.execute(cursors.insert().values(name=REPLAY_MARK, last_id=last_id))
        op.execute(cursors.update().where(cursors.c.name == FOLLOWER).values(last_id=0))


def downgrade() -> None:
    op.execute(cursors.delete().where(cursors.c.name == REPLAY_MARK))
    with op.batch_alter_table("product_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_members_user_id"))
    op.drop_table("product_members")
    op.drop_column("caldav_accounts", "shown_as_admin")
    op.drop_column("mirror_cards", "owner_id")
