"""server-side web sessions; API tokens with an expiry, scopes and a web session

Web sessions become rows (``web_sessions``) instead of Flask's signed cookie: the cookies of
before name no session, and their users log in again. API tokens gain ``expires_at``,
``scopes`` (a service token's) and ``web_session_id`` (a browser's token ends with its
session). Service tokens made before get what the sidecars need, so that a running calendar
sync or notifications service keeps working; the list is frozen here, whatever the code
says later. The browsers' tokens made before belonged to the old cookie sessions, which
end here: they are revoked with them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00
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

SIDECAR_SCOPES = [
    "events:read",
    "users:read",
    "products:read",
    "tasks:read",
    "tasks:write",
    "tasks:sync-conflicts",
    "today:read",
]

#: The name the web UI gave its browser tokens before they belonged to a web session.
BROWSER_TOKEN_NAME = "web UI (browser session)"

api_tokens = sa.table(
    "api_tokens",
    sa.column("service", sa.String(100)),
    sa.column("scopes", sa.JSON()),
    sa.column("name", sa.String(200)),
    sa.column("user_id", sa.Integer()),
    sa.column("revoked_at", cardcrm.common.db.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_web_sessions_secret_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_web_sessions_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_web_sessions_last_seen_at", ["last_seen_at"], unique=False)
        batch_op.create_index("ix_web_sessions_user_id", ["user_id"], unique=False)

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", cardcrm.common.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("scopes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("web_session_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_api_tokens_web_session_id"), ["web_session_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_web_session_id_web_sessions"),
            "web_sessions",
            ["web_session_id"],
            ["id"],
            ondelete="CASCADE",
        )

    op.execute(
        api_tokens.update().where(api_tokens.c.service.is_not(None)).values(scopes=SIDECAR_SCOPES)
    )
    op.execute(
        api_tokens.update()
        .where(
            api_tokens.c.name == BROWSER_TOKEN_NAME,
            api_tokens.c.user_id.is_not(None),
            api_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=datetime.now(UTC))
    )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_api_tokens_web_session_id_web_sessions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_api_tokens_web_session_id"))
        batch_op.drop_column("web_session_id")
        batch_op.drop_column("scopes")
        batch_op.drop_column("expires_at")
    op.drop_table("web_sessions")
