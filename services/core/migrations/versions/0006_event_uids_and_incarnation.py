"""events get a globally unique ``uid``; the database gets an incarnation

Integer event ids are reused after a restore from a backup; a ``uid`` (a random UUID) is not,
so webhooks, e-mails and the sidecars name events by it. Existing events get one here. The
one-row ``database_incarnation`` table holds a random id made now, which the event feed
serves so that a follower notices when it follows another database.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 20:10:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import cardcrm.common.db
import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=36), nullable=True))
    connection = op.get_bind()
    events = sa.table("events", sa.column("id", sa.BigInteger), sa.column("uid", sa.String))
    last = 0
    while True:
        ids = list(
            connection.scalars(
                sa.select(events.c.id).where(events.c.id > last).order_by(events.c.id).limit(BATCH)
            )
        )
        if not ids:
            break
        connection.execute(
            events.update().where(events.c.id == sa.bindparam("event_id")),
            [{"event_id": event_id, "uid": str(uuid.uuid4())} for event_id in ids],
        )
        last = ids[-1]
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("uid", existing_type=sa.String(length=36), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_events_uid"), ["uid"])
    incarnation = op.create_table(
        "database_incarnation",
        sa.Column("singleton", sa.Integer(), nullable=False),
        sa.Column("incarnation", sa.String(length=36), nullable=False),
        sa.Column("created_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_database_incarnation")),
    )
    op.bulk_insert(
        incarnation,
        [{"singleton": 1, "incarnation": str(uuid.uuid4()), "created_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_table("database_incarnation")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_events_uid"), type_="unique")
        batch_op.drop_column("uid")
