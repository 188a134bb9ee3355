"""The service's own database: declarative base, engine, and sessions for reads and writes.

Engines come from core's ``make_engine`` (SQLite in WAL mode with a busy timeout; PostgreSQL
as it is). ``Database.writer`` makes sessions whose transactions take SQLite's write lock up
front (``BEGIN IMMEDIATE``), so that the worker's threads queue for it instead of failing
half-way through a transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any

from cardcrm.core.db import NAMING_CONVENTION, UTCDateTime, make_engine, write_transaction
from flask import current_app, g
from sqlalchemy import JSON, MetaData
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

__all__ = ["Base", "Database", "get_session", "write_transaction"]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class WriteSessions:
    """Sessions for the worker's write transactions: ``with writer.begin() as session:``.

    On SQLite the threads of one process take turns through a lock before ``BEGIN
    IMMEDIATE``: SQLite's own wait for its write lock sleeps in steps of up to 100 ms, which
    under a burst cost the senders most of their time. Other processes still queue through
    SQLite's busy timeout; PostgreSQL needs neither (its row locks do the work).
    """

    def __init__(self, maker: sessionmaker, serialize: bool) -> None:
        self.maker = maker
        self.lock: AbstractContextManager[Any] = threading.RLock() if serialize else nullcontext()

    def __call__(self) -> Session:
        return self.maker()

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self.lock, self.maker.begin() as session:
            yield session


class Database:
    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.writer = WriteSessions(
            sessionmaker(self.engine.execution_options(write=True), expire_on_commit=False),
            serialize=self.engine.dialect.name == "sqlite",
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def get_session() -> Session:
    """The request's session, created on first use and closed when the request ends."""
    if "notifications_session" not in g:
        g.notifications_session = current_app.extensions["cardcrm_notifications"].db.sessions()
    return g.notifications_session


def close_session(_error: BaseException | None) -> None:
    session = g.pop("notifications_session", None)
    if session is not None:
        session.close()
