"""Creating and migrating a service's database with Alembic, from code (no alembic.ini).

Every service keeps its migrations in its own ``migrations`` folder and its own version table;
``upgrade`` and ``run_environment`` (the body of each ``migrations/env.py``) are shared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData

from .db import make_engine, sqlite_file
from .private_files import private_file


def alembic_config(url: str, folder: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, folder: Path, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creating it if it is empty)."""
    if (path := sqlite_file(url)) is not None:
        private_file(path)  # its folder too: the data folder is 0700 when cardcrm makes it
    command.upgrade(alembic_config(url, folder), revision)


def run_environment(
    metadata: MetaData, version_table: str, make_engine: Callable[[str], Engine] = make_engine
) -> None:
    """What a service's ``migrations/env.py`` does: run its migrations, offline or online,
    with its version table (batch mode, so SQLite can alter tables)."""
    from alembic import context

    config = context.config
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": version_table,
        "render_as_batch": True,
    }
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **options
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    engine = None
    if connection is None:
        engine = make_engine(str(config.get_main_option("sqlalchemy.url")))
        connection = engine.connect()
    try:
        context.configure(connection=connection, compare_type=True, **options)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if engine is not None:
            connection.close()
            engine.dispose()


class Migrations:
    """One service's migrations: its folder and its own version table."""

    def __init__(self, folder: Path, version_table: str) -> None:
        self.folder = folder
        self.version_table = version_table

    def config(self, url: str) -> Config:
        return alembic_config(url, self.folder)

    def upgrade(self, url: str, revision: str = "head") -> None:
        """Bring the database at ``url`` to ``revision`` (creating it if it is empty)."""
        upgrade(url, self.folder, revision)
