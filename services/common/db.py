"""Database access for every service: engines tuned per dialect, sessions, transactions.

Each service declares its own tables on its own declarative base (``new_metadata`` and
``TYPE_MAP`` make them alike) in its own database; this module is how all of them connect.

SQLite runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE`` so that two writers queue for the lock instead of one failing with
"database is locked" half-way through; a database file cardcrm creates is readable by its
owner only (``private_files``). PostgreSQL is used as it is, through psycopg 3, whose
statements are prepared on the server after their fifth run on a connection (psycopg's
default ``prepare_threshold``; SQLAlchemy's cached statements keep their text, so a request's
queries are prepared ones after warm-up), except where ``planned_for_values`` says otherwise.
A pooled connection is checked before use by
looking at its socket, not by a query (``_refuse_closed_connection``). Each worker process
has SQLAlchemy's default pool (5 connections, 10 more at peaks): enough for the threads of
``cardcrm serve`` (``server.py``).
"""

from __future__ import annotations

import json
import select
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson
from flask import Flask, current_app, g
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    insert,
    inspect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.types import TypeDecorator

from .private_files import private_file

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Where a request's session keeps the engine of its transactions (``request_session``).
_TRANSACTIONAL = "cardcrm_transactional_bind"
#: Where a session lists the objects ``write_transaction`` keeps loaded (``keep_loaded``).
_KEPT = "cardcrm_kept_loaded"


class UTCDateTime(TypeDecorator[datetime]):
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
        if value.tzinfo is UTC:  # PostgreSQL's (``_session_in_utc``)
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Python annotations to column types, for every service's declarative base.
TYPE_MAP: dict[Any, Any] = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def new_metadata() -> MetaData:
    """A service's metadata: constraint and index names follow one convention everywhere."""
    return MetaData(naming_convention=NAMING_CONVENTION)


#: Floats from this size on may be integers orjson read past 64 bits (it reads them as floats).
_HUGE = 2.0**63


def json_loads(text: str | bytes) -> Any:
    """JSON columns' values parsed by orjson (several times faster than ``json``), to the same
    values: orjson reads an integer past 64 bits as a float, and refuses ``NaN`` and numbers
    past a double's range, so a value holding a float that large, or refused, is parsed again
    by ``json``. Looking for one in a card's fields costs about what orjson's parse does (0.3
    µs each here); scanning the text for long runs of digits first cost six times as much."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    return json.loads(text) if _holds_huge_float(value) else value


def _holds_huge_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return bool(abs(value) >= _HUGE)
    if kind is dict:
        items: Iterable[Any] = value.values()
    elif kind is list:
        items = value
    else:
        return False
    for item in items:
        if type(item) in _SCALARS:
            continue
        if _holds_huge_float(item):
            return True
    return False


_SCALARS = frozenset((str, int, bool, type(None)))


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url`` with the project's settings for its dialect."""
    parsed = make_url(url)
    options.setdefault("json_deserializer", json_loads)
    if parsed.get_backend_name() == "sqlite":
        if (path := sqlite_file(url)) is not None:
            private_file(path)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options
        )
        _tune_sqlite(engine)
        return engine
    engine = create_engine(url, **options)
    if not options.get("pool_pre_ping"):
        event.listen(engine, "checkout", _refuse_closed_connection)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _session_in_utc)
    return engine


def _session_in_utc(dbapi_connection: Any, _record: Any) -> None:
    """Each PostgreSQL connection's session speaks UTC, whatever the server's ``TimeZone``.

    psycopg then gives instants with ``datetime.UTC`` itself, which ``UTCDateTime`` passes on
    as they are; in another zone (a server set to ``Etc/UTC`` or ``Europe/Bucharest``) each
    value read took an ``astimezone`` call, 13 % of the Today view's Python time. It also
    keeps anything the database works out from the session's zone the same everywhere. Set
    once per connection, by a statement (not a startup option, which PgBouncer refuses)."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
    finally:
        dbapi_connection.autocommit = autocommit


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Hand out no pooled PostgreSQL connection the server has closed, without a round trip.

    ``pool_pre_ping`` would send a query on every checkout (one more round trip in every
    request). A server that ends a connection (a restart, ``pg_terminate_backend``, an idle
    timeout) says so on its socket, which then reads as ready while the connection is idle:
    such a connection is dropped and the pool makes a new one. A connection that died
    without a word (the network gone) still fails its request with a 503 and the pool is
    then renewed (SQLAlchemy invalidates it on the disconnect error)."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    try:
        ready, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
    except (OSError, ValueError) as error:
        raise DisconnectionError(f"the connection's socket is gone: {error}") from error
    if ready:
        raise DisconnectionError("the server closed the connection")


@contextmanager
def planned_for_values(session: Session) -> Iterator[None]:
    """The statements run inside are planned for their own values on PostgreSQL: psycopg does
    not prepare them, so PostgreSQL never reuses a plan made for no values in particular.

    For statements whose best plan depends on the values: after a prepared statement's fifth
    run, PostgreSQL keeps a *generic* plan when it estimates it as cheap as the plans it made
    for the values given. A card list filtered by a status or an owner that way scanned the
    product's cards in the list's order (139 and 296 ms on average under the load test, at
    100,000 cards) where the plan for the values reads that status's or owner's index (6 to
    7 ms). The price is planning every run (0.1 to 0.6 ms for a card list).
    SQLite plans every statement itself: nothing changes there."""
    dbapi_connection: Any = session.connection().connection.dbapi_connection
    if not hasattr(dbapi_connection, "prepare_threshold"):
        yield
        return
    threshold = dbapi_connection.prepare_threshold
    dbapi_connection.prepare_threshold = None
    try:
        yield
    finally:
        dbapi_connection.prepare_threshold = threshold


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or a ``file:`` URI."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return None
    if parsed.database in (None, "", ":memory:") or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


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


class WriteSessions:
    """Sessions whose transactions are opened for writing: ``with writer.begin() as session:``.

    On SQLite such a transaction takes the write lock up front (``BEGIN IMMEDIATE``), so a
    worker that reads and then writes cannot fail half-way; the threads of one process also
    take turns through a lock first, since SQLite's own wait for its lock sleeps in steps of
    up to 100 ms. Other processes queue through SQLite's busy timeout; PostgreSQL needs
    neither (its row locks do the work).
    """

    def __init__(self, maker: sessionmaker[Session], serialize: bool) -> None:
        self.maker = maker
        self.lock: AbstractContextManager[Any] = threading.RLock() if serialize else nullcontext()

    def __call__(self) -> Session:
        return self.maker()

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self.lock, self.maker.begin() as session:
            yield session


class Database:
    """A service's engine and its session factories, plus a session per request (``g``).

    ``sessions`` is for requests (reads, and ``write_transaction`` for writes); ``writer`` is
    for workers whose every transaction writes.
    """

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_options)
        #: Called with each request's session when it is made (``get_session``): core gives
        #: it the caller its token check found (``auth.service``).
        self.session_made: list[Callable[[Session], None]] = []
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: A request's reads on PostgreSQL: no transaction (``request_session``).
        self.reading = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "postgresql"
            else None
        )
        self.writer = WriteSessions(
            sessionmaker(self.engine.execution_options(write=True), expire_on_commit=False),
            serialize=self.engine.dialect.name == "sqlite",
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def init_app(self, app: Flask) -> None:
        app.extensions["cardcrm_db"] = self
        app.teardown_appcontext(_close_session)

    def session(self) -> Session:
        return self.sessions()

    def request_session(self) -> Session:
        """A request's session (``get_session``): on PostgreSQL its reads run outside any
        transaction, each statement on its own, until ``write_transaction`` opens one.

        A read-only request then costs its queries' round trips only, not a ``BEGIN`` and a
        ``ROLLBACK`` more. It sees what it would have seen in a transaction: PostgreSQL's
        READ COMMITTED (the default) gives every statement its own snapshot either way.
        Writes, and the reads and locks they depend on, are in ``write_transaction``, which
        moves the session to a real transaction. SQLite keeps its transactions (its reads
        share one snapshot, and they cost no round trip)."""
        if self.reading is None:
            return self.sessions()
        session = self.sessions(bind=self.reading)
        session.info[_TRANSACTIONAL] = self.engine
        return session

    @contextmanager
    def one_read(self) -> Iterator[Connection]:
        """A connection for a request's read made before its session is needed (the token
        check): on PostgreSQL one of the pool's, outside any transaction and given back at
        once, so that a request answered from memory (``core/answers.py``) makes no session
        at all; on SQLite the request session's own, whose transaction its later reads share.
        """
        if self.reading is None:
            yield get_session().connection()
            return
        with self.reading.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def get_db() -> Database:
    """The database of the app handling the request."""
    database: Database = current_app.extensions["cardcrm_db"]
    return database


def get_session() -> Session:
    """The request's session, created on first use and closed when the request ends."""
    if "db_session" not in g:
        database = get_db()
        g.db_session = database.request_session()
        for made in database.session_made:
            made(g.db_session)
    session: Session = g.db_session
    return session


def made_session() -> Session | None:
    """The request's session if ``get_session`` has made it, else None."""
    session: Session | None = g.get("db_session")
    return session


def _close_session(_error: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def reads_outside_transactions(session: Session) -> bool:
    """Whether ``session`` is a request's session still reading outside transactions
    (``Database.request_session``): each statement it sends commits by itself."""
    return _TRANSACTIONAL in session.info


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """Run a service function's writes in one transaction: commit on success, else roll back.

    On SQLite the transaction takes the write lock up front (``BEGIN IMMEDIATE``). A request's
    session that read outside transactions (``Database.request_session``) has them from then
    on. Any
    transaction already open on the session (e.g. from reads earlier in the request) is ended
    first, so that the reads a write depends on happen inside the write transaction.
    """
    if session.in_transaction():
        _end_reads(session)
    transactional = session.info.pop(_TRANSACTIONAL, None)
    if transactional is not None:  # a request's session, reading outside transactions so far
        session.bind = transactional
    session.connection(execution_options={"write": True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def keep_loaded(session: Session, instance: Any) -> None:
    """Let ``instance`` (the caller's user, read with the request's token) stay loaded when
    ``write_transaction`` ends the reads before it, instead of being read again.

    Ending a transaction expires what the session loaded, so the next look at the caller
    (``is_admin``, ``id``) was a ``SELECT users`` in every write. The row was read by this
    request a moment before, like the token it came with, and decides nothing the write's own
    statements do not check again; an instance changed in the session is expired as before."""
    session.info.setdefault(_KEPT, []).append(instance)


def _end_reads(session: Session) -> None:
    """Roll back the transaction of a request's reads; objects ``keep_loaded`` names stay
    loaded (they are taken out of the session for the rollback and put back after it)."""
    kept = [
        instance
        for instance in session.info.get(_KEPT, ())
        if instance in session and instance not in session.dirty
    ]
    for instance in kept:
        session.expunge(instance)
    session.rollback()
    for instance in kept:
        session.add(instance)


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
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(model).values(rows)
    if callable(update):
        update = update(statement.excluded)
    if update:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=update)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    session.execute(statement)


Model = TypeVar("Model")


def insert_loaded(session: Session, new: Model, **values: Any) -> Model:
    """Insert ``new`` (an object made but not added: the column values it was given, and
    ``values``) with one Core ``INSERT ... RETURNING`` every column, and give back the object
    as the row holds it (the table's defaults filled in), loaded and in ``session``, as if the
    ORM had flushed it.

    The ORM's unit of work is skipped, so no mapper ``before_insert``/``after_insert``
    listener runs, and relationships are not set: the caller sets those it knows
    (``set_committed_value``). A new task and a new card are written so: the flush of one
    object cost 8 % of a task creation's CPU more (``tasks/service.py``)."""
    model = type(new)
    statement, keys = _insert_returning(cast(Table, inspect(model).local_table))
    given = {key: value for key, value in vars(new).items() if key in keys}
    row = session.connection().execute(statement, {**given, **values}).one()
    loaded = model(**dict(zip(keys, row, strict=True)))
    make_transient_to_detached(loaded)  # what it holds is what the row holds
    session.add(loaded)
    return loaded


@cache
def _insert_returning(table: Table) -> tuple[Any, tuple[str, ...]]:
    """``table``'s insert returning every column, built once, and the columns' keys."""
    return insert(table).returning(*table.columns), tuple(column.key for column in table.columns)
