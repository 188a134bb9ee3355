"""Creating and migrating core's database with Alembic, from code (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from cardcrm.common.migrate import Migrations

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", "alembic_version_core")
VERSION_TABLE = MIGRATIONS.version_table
alembic_config = MIGRATIONS.config
upgrade = MIGRATIONS.upgrade
