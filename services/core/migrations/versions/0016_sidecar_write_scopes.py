"""service tokens made with the sidecars' default scopes gain cards:create and notes:write

The calendar service's CalDAV server turns a calendar app's writes into the user's changes in
core: a new to-do becomes a task on the user's inbox card (``cards:create``) and a changed
description a note (``notes:write``). A service token that holds every scope the sidecars
needed before (made by ``cardcrm up`` or by ``cardcrm token create --service`` with the
default scopes) gains these two, so a running calendar service keeps working. Tokens given a
narrower list on purpose (``--scope``, such as the mail receiver's ``mail:deliver``) keep it.
The lists are frozen here, whatever the code says later.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The sidecars' default scopes before this revision (0005's list).
FORMER_DEFAULT = frozenset(
    {
        "events:read",
        "users:read",
        "products:read",
        "tasks:read",
        "tasks:write",
        "tasks:sync-conflicts",
        "today:read",
    }
)
ADDED = ("cards:create", "notes:write")

api_tokens = sa.table(
    "api_tokens",
    sa.column("id", sa.Integer),
    sa.column("service", sa.String),
    sa.column("scopes", sa.JSON),
)


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(api_tokens.c.id, api_tokens.c.scopes).where(api_tokens.c.service.is_not(None))
    ).all()
    for token_id, scopes in rows:
        held = list(scopes or [])
        if set(held) >= FORMER_DEFAULT and not set(ADDED) <= set(held):
            widened = held + [scope for scope in ADDED if scope not in held]
            connection.execute(
                api_tokens.update().where(api_tokens.c.id == token_id).values(scopes=widened)
            )


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(api_tokens.c.id, api_tokens.c.scopes).where(api_tokens.c.service.is_not(None))
    ).all()
    for token_id, scopes in rows:
        held = list(scopes or [])
        if set(held) >= FORMER_DEFAULT:
            narrowed = [scope for scope in held if scope not in ADDED]
            connection.execute(
                api_tokens.update().where(api_tokens.c.id == token_id).values(scopes=narrowed)
            )
