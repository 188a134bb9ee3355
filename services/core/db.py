"""Database access: the declarative base, engines tuned per dialect, and the request session.

SQLite runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE`` so that two writers queue for the lock instead of one failing with
"database is locked" half-way through. PostgreSQL is used as it is, through psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 15_000


class UTCDateTime(TypeDecorator):
    """An instant: aware UTC in Python, ``timestamptz`` on PostgreSQL, naive UTC on SQLite.

    SQLite keeps no offset, so values are stored as naive UTC text, which also sorts in
    chronological order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url`` with the project's settings for its dialect."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options
        )
        _tune_sqlite(engine)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine and session factory per app, plus a session per request (``g``)."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def init_app(self, app: Flask) -> None:
        app.extensions["cardcrm_db"] = self
        app.teardown_appcontext(_close_session)

    def session(self) -> Session:
        return self.sessionmaker()

    def dispose(self) -> None:
        self.engine.dispose()


def get_db() -> Database:
    return current_app.extensions["cardcrm_db"]


def get_session() -> Session:
    """The request's session, created on first use and closed when the request ends."""
    if "db_session" not in g:
        g.db_session = get_db().session()
    return g.db_session


def _close_session(_error: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """Run a service function's writes in one transaction: commit on success, else roll back.

    On SQLite the transaction takes the write lock up front (``BEGIN IMMEDIATE``). Any
    transaction already open on the session (e.g. from reads earlier in the request) is ended
    first, so that the reads a write depends on happen inside the write transaction.
    """
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={"write": True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
