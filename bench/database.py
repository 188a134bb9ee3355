"""The benchmark's databases: making an empty one, the generation marker, and the results folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

RESULTS = Path(__file__).parent / "results"
DEFAULT_SQLITE_URL = f"sqlite:///{RESULTS / 'cardcrm-bench.db'}"
POSTGRES_URL_VARIABLE = "CARDCRM_BENCH_POSTGRES_URL"
#: Bumped whenever the generator writes different rows, so that old data is made again.
GENERATOR_VERSION = 6  # 4: cards carry search_text; 5: and their e-mail secret; 6: amount_cents


def dialect_of(url: str) -> str:
    return make_url(url).get_backend_name()


def display_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("the benchmark needs a SQLite file, not an in-memory database")
    return Path(database)


def make_empty(url: str, *, force: bool) -> None:
    """Make sure the database at ``url`` exists and holds no tables.

    An existing, non-empty database is only dropped and made again with ``force``.
    """
    if dialect_of(url) == "sqlite":
        path = sqlite_path(url)
        if path.exists() and not force and _has_tables(url):
            raise SystemExit(f"{path} is not empty; pass --force to start again")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    if dialect_of(url) != "postgresql":
        raise SystemExit(f"unsupported database {display_url(url)}: use SQLite or PostgreSQL")
    parsed = make_url(url)
    name = parsed.database
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if exists and _has_tables(url):
                if not force:
                    raise SystemExit(f"database {name} is not empty; pass --force to start again")
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                exists = False
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def _has_tables(url: str) -> bool:
    engine = create_engine(url)
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --- the generation marker --------------------------------------------------------------------


def marker_path(url: str) -> Path:
    """Where ``generate`` notes what it loaded into ``url`` (one file per database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        name = sqlite_path(url).stem
    else:
        name = f"{parsed.host or 'local'}-{parsed.port or 5432}-{parsed.database}"
    return RESULTS / f"generated-{parsed.get_backend_name()}-{name}.json"


def write_marker(url: str, content: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    marker_path(url).write_text(json.dumps(content, indent=2) + "\n")


def read_marker(url: str) -> dict[str, Any] | None:
    path = marker_path(url)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def is_generated(url: str, sizes: dict[str, Any]) -> bool:
    """True when the marker says ``url`` holds data of ``sizes`` and the database agrees."""
    marker = read_marker(url)
    if marker is None or marker.get("sizes") != sizes:
        return False
    if marker.get("generator") != GENERATOR_VERSION:
        return False
    if dialect_of(url) == "sqlite" and not sqlite_path(url).exists():
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            cards = connection.scalar(text("SELECT count(*) FROM cards"))
            tasks = connection.scalar(text("SELECT count(*) FROM tasks"))
    except SQLAlchemyError:  # no database or no tables yet: not generated
        return False
    finally:
        engine.dispose()
    return cards == marker.get("counts", {}).get("cards") and tasks == marker["counts"].get("tasks")
