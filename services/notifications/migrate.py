"""Creating and migrating the notifications database with Alembic, from code (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from cardcrm.core import migrate

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    return migrate.alembic_config(url, MIGRATIONS)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creating it if it is empty)."""
    migrate.upgrade(url, revision, MIGRATIONS)
