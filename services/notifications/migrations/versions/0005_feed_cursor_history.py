"""the feed cursor remembers where in core's history it stands, and when it last rewound

``last_uid`` and ``incarnation`` let the follower notice a core restored behind its cursor;
``rewound_at`` and ``rewind_reason`` say when it did (shown by ``/healthz``). Cursors of
before keep null: the first event handled fills them in.

Notifications of events are keyed by the event's ``uid`` from now on; ``worker_state``'s
``event_keys_by_uid_since`` holds this instant, so that an event from before it, read again,
is looked up under the key it was notified with (``event:<id>``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 20:15:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED_BY_UID_SINCE = "event_keys_by_uid_since"


def upgrade() -> None:
    with op.batch_alter_table("feed_cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_uid", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("incarnation", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("rewound_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("rewind_reason", sa.String(length=300), nullable=True))
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    state = sa.table("worker_state", sa.column("name", sa.String), sa.column("value", sa.String))
    op.execute(state.delete().where(state.c.name == KEYED_BY_UID_SINCE))
    op.execute(state.insert().values(name=KEYED_BY_UID_SINCE, value=now))


def downgrade() -> None:
    state = sa.table("worker_state", sa.column("name", sa.String))
    op.execute(state.delete().where(state.c.name == KEYED_BY_UID_SINCE))
    with op.batch_alter_table("feed_cursors", schema=None) as batch_op:
        batch_op.drop_column("rewind_reason")
        batch_op.drop_column("rewound_at")
        batch_op.drop_column("incarnation")
        batch_op.drop_column("last_uid")
