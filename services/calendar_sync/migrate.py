"""Creating and migrating the calendar sync database with Alembic, from code (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from cardcrm.common.migrate import Migrations

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", "alembic_version_calendar")
VERSION_TABLE = MIGRATIONS.version_table
alembic_config = MIGRATIONS.config
upgrade = MIGRATIONS.upgrade
