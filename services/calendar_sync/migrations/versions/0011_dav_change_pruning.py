"""the CalDAV server's change log is pruned, and done tasks are shown by their completion time

``dav_changes.at``: when a change was logged (rows of before count as logged now), so that
the worker can prune the log; ``dav_change_horizons``: per user, the newest row pruned, so
that a sync token older than it is refused (RFC 6578 ``valid-sync-token``) and the client
lists the collection again. ``mirror_tasks.closed_at``: when a task was closed (from core's
JSON of it, which the mirror keeps in ``data``), which decides how long a done task stays in
the collections.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06 06:45:00
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def upgrade() -> None:
    instant = cardcrm.common.db.UTCDateTime(timezone=True)
    with op.batch_alter_table("dav_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("at", instant, nullable=True))
    changes = sa.table("dav_changes", sa.column("at", instant))
    op.get_bind().execute(sa.update(changes).values(at=datetime.now(UTC)))
    with op.batch_alter_table("dav_changes", schema=None) as batch_op:
        batch_op.alter_column("at", existing_type=instant, nullable=False)
        batch_op.create_index("ix_dav_changes_at", ["at"], unique=False)

    op.create_table(
        "dav_change_horizons",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("through_id", sa.Integer(), nullable=False),
        sa.Column("pruned_at", instant, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_dav_change_horizons")),
    )

    with op.batch_alter_table("mirror_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", instant, nullable=True))
    tasks = sa.table(
        "mirror_tasks",
        sa.column("id", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("data", sa.JSON()),
        sa.column("modified_at", instant),
        sa.column("closed_at", instant),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(tasks.c.id, tasks.c.data, tasks.c.modified_at).where(tasks.c.status != "open")
    ).all()
    for task_id, data, modified_at in rows:
        if isinstance(data, str):
            data = json.loads(data)
        closed = _instant(str((data or {}).get("closed_at") or "")) or modified_at
        bind.execute(sa.update(tasks).where(tasks.c.id == task_id).values(closed_at=closed))


def downgrade() -> None:
    with op.batch_alter_table("mirror_tasks", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
    op.drop_table("dav_change_horizons")
    with op.batch_alter_table("dav_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_dav_changes_at")
        batch_op.drop_column("at")
