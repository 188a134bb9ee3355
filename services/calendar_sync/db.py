"""The calendar sync service's own database: declarative base, engine, sessions, upserts.

Engines come from core's ``make_engine`` (SQLite in WAL mode with a busy timeout,
``BEGIN IMMEDIATE`` for transactions opened for writing); the tables are this service's only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from cardcrm.core.db import NAMING_CONVENTION, UTCDateTime, make_engine, write_transaction
from flask import current_app, g
from sqlalchemy import JSON, MetaData
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

__all__ = ["Base", "Database", "get_session", "upsert", "write_transaction"]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Database:
    """One engine for the service, with two session factories.

    ``sessions`` is for requests (reads, and ``write_transaction`` for writes); ``writer``
    opens every transaction for writing, which the event follower needs on SQLite: it reads
    the cursor and then writes, and a deferred transaction could not take the write lock.
    """

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.writer = sessionmaker(
            self.engine.execution_options(write=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def get_session() -> Session:
    """The request's session, closed when the request ends."""
    if "calendar_session" not in g:
        g.calendar_session = current_app.extensions["calendar_sync"].database.session()
    return g.calendar_session


def close_session(_error: BaseException | None) -> None:
    session = g.pop("calendar_session", None)
    if session is not None:
        session.close()


def upsert(
    session: Session,
    model: type,
    rows: Iterable[dict[str, Any]],
    keys: list[str],
    update: dict[str, Any] | Callable[[Any], dict[str, Any]] | None = None,
) -> None:
    """Insert ``rows``; where the ``keys`` exist, set ``update`` (or leave the row as it is).

    ``update`` may be a function of the statement's ``excluded`` (the rows offered).
    """
    rows = list(rows)
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(model).values(rows)
    if callable(update):
        update = update(statement.excluded)
    if update:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=update)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    session.execute(statement)
