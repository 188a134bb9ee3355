"""Secret feed URLs and serving a user's tasks as an iCal feed.

A feed token carries 192 random bits and is stored as its SHA-256; making a new one revokes
the previous. Serving checks ``If-None-Match`` against the ETag kept for the user's current
feed version before anything is built, so an unchanged feed costs one indexed query (run on a
driver connection, outside any session: ``FeedLookup``).

Each process keeps the feeds it built (``KeptFeeds``): their bytes and ETag for the stamp
they were built for (the feed's version and everything else the bytes depend on), and each
task's component as bytes. The same stamp is answered with the same bytes; a new version (a
task changed) reads only the ids, sequences and dates of the shown tasks and the components of
those that changed, and joins the rest as kept (``build_feed``).

A feed shows only tasks on cards its user may see (``mirror.shown_tasks``). Whether the user
is an admin comes from core (cached); if core cannot say, the feed is not served (503) rather
than built on a guess. That flag is part of the key of the ETag kept, since a change of it is
no event and no new feed version.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, Protocol, cast
from weakref import WeakKeyDictionary

from cardcrm.common.bulk import execute_many
from cardcrm.common.db import Database, upsert, write_transaction
from cardcrm.common.errors import CoreUnreachable, NotFound
from cardcrm.common.i18n import SOURCE_LANGUAGE
from cardcrm.sidecar.core_client import CoreUnavailable
from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from .context import CalendarContext
from .crypto import PasswordUnreadable
from .mirror import bump_feeds, shown_tasks
from .models import FeedRender, FeedState, FeedToken, MirrorCard, MirrorTask

log = logging.getLogger(__name__)

TOKEN_BYTES = 24
FORMATS = {"events": "VEVENT", "todos": "VTODO"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(
    session: Session,
    user: dict[str, Any],
    now: datetime,
    seal: Callable[[str], str] | None = None,
) -> str:
    """A new secret token for the user's feed; the previous one stops working.

    Its SHA-256 finds the feed; ``seal`` (the context's ``feed_tokens.seal``) keeps it
    encrypted too, so that its owner can be shown the address again (``feed_token``)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with write_transaction(session):
        _revoke(session, user["id"], now)
        # The calendar's name and time zone are the token's: a new feed version. The name is
        # kept in this shape and said in the owner's language when served (ical.STORED_NAME).
        bump_feeds(session, {user["id"]: now})
        session.add(
            FeedToken(
                user_id=user["id"],
                token_hash=hash_token(token),
                token_sealed=seal(token) if seal is not None else None,
                calendar_name=f"cardcrm tasks ({user.get('name') or user.get('email')})",
                timezone=user.get("timezone") or "UTC",
                created_at=now,
            )
        )
    return token


def feed_token(feed: FeedToken, open_sealed: Callable[[str], str]) -> str | None:
    """The token of ``feed`` in clear, or ``None`` when it cannot be shown: made before the
    tokens were kept, or sealed with another secret key (then only a new address helps)."""
    if feed.token_sealed is None:
        return None
    try:
        return open_sealed(feed.token_sealed)
    except PasswordUnreadable:
        log.warning(
            "the feed token of user %s cannot be decrypted (a new secret key?)", feed.user_id
        )
        return None


def revoke_feed(session: Session, user_id: int, now: datetime) -> None:
    with write_transaction(session):
        if not _revoke(session, user_id, now):
            raise NotFound("You have no feed.")


def active_feed(session: Session, user_id: int) -> FeedToken | None:
    return session.scalar(
        select(FeedToken).where(FeedToken.user_id == user_id, FeedToken.revoked_at.is_(None))
    )


def _revoke(session: Session, user_id: int, now: datetime) -> int:
    # An UPDATE gives a CursorResult, which SQLAlchemy's types do not say.
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(FeedToken)
            .where(FeedToken.user_id == user_id, FeedToken.revoked_at.is_(None))
            .values(revoked_at=now)
        ),
    )
    return result.rowcount


# --- serving --------------------------------------------------------------------------------

#: A token's feed: who, its version and the ETag served for it. Built once (and compiled
#: once, ``FeedLookup``): this query is the whole of a 304.
FEED_QUERY = (
    select(
        FeedToken.user_id,
        FeedToken.calendar_name,
        FeedToken.timezone,
        FeedToken.created_at,
        FeedState.version,
        FeedState.changed_at,
        FeedRender.version.label("built_version"),
        FeedRender.render_key,
        FeedRender.etag,
    )
    .outerjoin(FeedState, FeedState.user_id == FeedToken.user_id)
    .outerjoin(
        FeedRender,
        and_(FeedRender.user_id == FeedToken.user_id, FeedRender.format == bindparam("format")),
    )
    .where(FeedToken.token_hash == bindparam("token_hash"), FeedToken.revoked_at.is_(None))
)


class FeedOwner(Protocol):
    """What building a feed needs of its token (a ``FeedToken``, or a row of ``FEED_QUERY``)."""

    @property
    def user_id(self) -> int: ...
    @property
    def calendar_name(self) -> str: ...
    @property
    def timezone(self) -> str: ...


@dataclass
class FeedAnswer:
    status: int
    etag: str
    last_modified: datetime
    body: bytes = b""
    #: What the request computed for later ones (components, the ETag), to store once the
    #: answer is sent (``keep``).
    later: list[Callable[[Session], object]] = field(default_factory=list)
    database: Database | None = None

    def keep(self) -> None:
        """Store what the request computed, each in its own write transaction: run after the
        answer is sent (the view's ``call_on_close``), so that the client does not wait for
        the writes. They are a cache: one that fails (logged) costs the next request a build,
        and none can make an answer wrong (``keep_renders`` keeps a component only for the
        task's sequence it was rendered from; a feed's ETag is stored with its version)."""
        later, self.later = self.later, []
        if self.database is None:
            return
        for action in later:
            try:
                with self.database.writer.begin() as session:
                    action(session)
            except Exception:
                log.exception("could not keep what a feed request computed")


def serve_feed(
    sessions: Callable[[], Session],
    context: CalendarContext,
    token: str,
    format: str,
    if_none_match: list[str] | None,
    if_modified_since: datetime | None,
) -> FeedAnswer:
    """The feed for ``token`` as a 200 or a 304 (``If-None-Match`` wins over the date).

    One query (``FEED_QUERY``, ``FeedLookup``) says whose feed it is, its version and the ETag
    stored for it; a 304 needs nothing more, not even the request's session (``sessions``
    gives it). A 200 of a version this process built already is answered with the bytes it
    kept (``KeptFeeds``); another version is built from the entries of the one kept, reading
    again only the tasks that changed (``build_feed``). What a build leaves to store (the
    components rendered, the ETag for other processes) is in the answer's ``later``, for its
    ``keep`` once the answer is sent.
    """
    served = _served(context)
    feed = served.lookup(hash_token(token), format)
    if feed is None:
        raise NotFound("No such feed.")
    if not context.caught_up and context.catching_up(sessions()):
        raise CoreUnreachable("The calendar is catching up with cardcrm; try again shortly.")
    try:
        admin = context.is_admin(feed.user_id)
    except CoreUnavailable:
        raise CoreUnreachable("cardcrm cannot be reached; try again shortly.") from None
    version = feed.version or 0
    last_modified = _seconds(max(feed.changed_at or feed.created_at, feed.created_at))
    language = context.language_of(feed.user_id)
    key = feed_key(context.renderer.key_for(language), admin)
    # Everything the bytes depend on: the feed's version (its tasks, their cards, who may see
    # them), the renderer in the owner's language (plugins too) and the admin flag (``key``),
    # and the token's name and time zone (a new token is a new version too; belt and braces).
    stamp = (version, key, feed.calendar_name, feed.timezone)
    kept = served.kept.get(feed.user_id, format)
    current = kept.built if kept is not None and kept.stamp == stamp else None
    stored = feed.etag if (feed.built_version, feed.render_key) == (version, key) else None
    known = [etag for etag in (stored, current.etag if current else None) if etag]
    if if_none_match is not None:
        for etag in known:
            if _matches(if_none_match, etag):
                return FeedAnswer(304, etag, last_modified)
    elif if_modified_since is not None and known and last_modified <= if_modified_since:
        return FeedAnswer(304, known[0], last_modified)

    later: list[Callable[[Session], object]] = []

    def keep(rendered: list[Entry], key: str, column: str) -> None:
        later.append(lambda session: store_renders(session, renders_of(rendered), key, column))

    if current is None:
        previous = kept.built if kept else None
        current = build_feed(sessions(), context, feed, format, admin, language, previous, keep)
        served.kept.put(feed.user_id, format, KeptFeed(stamp, current))
    if current.etag != stored:
        etag, now = current.etag, context.clock()
        later.append(
            lambda session: _remember(session, feed.user_id, format, version, key, etag, now)
        )
    if if_none_match is not None and _matches(if_none_match, current.etag):
        answer = FeedAnswer(304, current.etag, last_modified)
    else:
        answer = FeedAnswer(200, current.etag, last_modified, current.body)
    answer.later, answer.database = later, context.database
    return answer


def feed_key(render_key: str, admin: bool) -> str:
    """What a served feed's bytes depend on besides its version: the renderer, and whether
    its user is an admin (``FeedRender.render_key``)."""
    return f"{render_key}:{'admin' if admin else 'user'}"


# --- kept feeds -----------------------------------------------------------------------------


class Entry(NamedTuple):
    """A task's component in a built feed, with what says it is still the task's current one.

    Every change of what a component shows bumps the task's ``sequence`` (``mirror``);
    ``modified_at`` tells apart a task core gave the id of one lost with a restore, whose
    rebuilt mirror started its sequences again. Both are as the database driver gives them
    (a string on SQLite), read alike by every query here (``_RAW_MODIFIED_AT``)."""

    id: int
    sequence: int
    modified_at: Any
    #: the component, encoded (a feed's body is its entries joined)
    text: bytes


@dataclass(frozen=True)
class BuiltFeed:
    """A feed's bytes, their ETag, and its entries (what the next build reuses) by the state of
    their task they show: (id, sequence, modified_at); ``render_key`` is the renderer's key for
    the language the entries are in."""

    body: bytes
    etag: str
    render_key: str
    entries: dict[tuple[Any, ...], Entry]


@dataclass(frozen=True)
class KeptFeed:
    """A feed built by this process, for the ``stamp`` of ``serve_feed``."""

    stamp: tuple[Any, ...]
    built: BuiltFeed

    @property
    def size(self) -> int:
        """About the bytes it holds: its body, and its entries' text beside it."""
        return 2 * len(self.built.body) + 100 * len(self.built.entries)


#: Bytes of feeds a process keeps by default (``FEED_KEPT_BYTES``): a 5,000-task feed of
#: events and its entries take about 4 MB.
KEPT_BYTES = 64 * 1024 * 1024


class KeptFeeds:
    """The feeds this process built last, one per (user, format), the least recently used
    dropped first past ``limit`` bytes.

    Each process (a gunicorn worker) keeps its own: what they keep is only ever served for the
    stamp read from the database in the same request (the feed's version, bumped in the
    transaction of every change of it), so no process serves bytes another made stale, and a
    revoked token finds no feed before anything kept is looked at.
    """

    def __init__(self, limit: int = KEPT_BYTES) -> None:
        self.limit = limit
        self._feeds: OrderedDict[tuple[int, str], KeptFeed] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, user_id: int, format: str) -> KeptFeed | None:
        with self._lock:
            kept = self._feeds.get((user_id, format))
            if kept is not None:
                self._feeds.move_to_end((user_id, format))
            return kept

    def put(self, user_id: int, format: str, kept: KeptFeed) -> None:
        with self._lock:
            previous = self._feeds.pop((user_id, format), None)
            if previous is not None:
                self._size -= previous.size
            if kept.size > self.limit:
                return
            self._feeds[(user_id, format)] = kept
            self._size += kept.size
            while self._size > self.limit:
                _key, dropped = self._feeds.popitem(last=False)
                self._size -= dropped.size

    def forget(self) -> None:
        """Keep nothing (the next request of each feed builds it from the mirror)."""
        with self._lock:
            self._feeds.clear()
            self._size = 0


class FeedRow(NamedTuple):
    """A row of ``FEED_QUERY``."""

    user_id: int
    calendar_name: str
    timezone: str
    created_at: datetime
    version: int | None
    changed_at: datetime | None
    built_version: int | None
    render_key: str | None
    etag: str | None


class FeedLookup:
    """``FEED_QUERY`` compiled once for a database and run on a connection of its driver: the
    whole of a 304, without a session, a transaction (SQLite's ``BEGIN`` and ``ROLLBACK``) or
    SQLAlchemy's execution of a statement (its cache key), which together cost more than the
    query. Its values go through the columns' own result processors.

    On SQLite each thread keeps a connection of its own for it (taken from the engine, so set
    up as the engine's are, then detached from its pool): the pool's check-out and check-in
    were half of the lookup (12 -> 5.5 us of CPU). The statement runs in autocommit and is
    read to its end, so the connection holds no snapshot between requests. PostgreSQL's
    connections stay with the pool, which renews those the server closed."""

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = FEED_QUERY.compile(dialect=dialect)
        self.engine = engine
        self.sql = str(compiled)
        #: the parameters' order for a driver of positional parameters (SQLite's ``?``)
        self.order = compiled.positiontup if compiled.positional else None
        self.processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in FEED_QUERY.selected_columns
        ]
        #: this thread's connection and cursor, on SQLite
        self._held = threading.local() if dialect.name == "sqlite" else None

    def __call__(self, token_hash: str, format: str) -> FeedRow | None:
        named = {"token_hash": token_hash, "format": format}
        parameters: Any = named if self.order is None else [named[name] for name in self.order]
        rows = self._rows(parameters)
        if not rows:
            return None
        (row,) = rows
        values: list[Any] = [
            value if process is None else process(value)
            for process, value in zip(self.processors, row, strict=True)
        ]
        return FeedRow(*values)

    def _rows(self, parameters: Any) -> list[Any]:
        if self._held is not None:
            held = self._held
            if getattr(held, "cursor", None) is None:
                held.connection = self.engine.raw_connection()
                held.connection.detach()  # this thread's own from now on (see the class)
                held.cursor = held.connection.dbapi_connection.cursor()
            try:
                held.cursor.execute(self.sql, parameters)
                return list(held.cursor.fetchall())  # to its end: the statement is done
            except Exception:
                connection, held.connection, held.cursor = held.connection, None, None
                connection.close()  # a new one next time
                raise
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql, parameters)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, which ends any transaction the driver began


@dataclass
class _Served:
    """What serving feeds keeps per database: the lookup of a token and the feeds built."""

    lookup: FeedLookup
    kept: KeptFeeds


#: Per database: the app and the tests' services each have their own.
_SERVED: WeakKeyDictionary[Database, _Served] = WeakKeyDictionary()
_SERVED_LOCK = threading.Lock()


def _served(context: CalendarContext) -> _Served:
    served = _SERVED.get(context.database)
    if served is None:
        with _SERVED_LOCK:
            served = _SERVED.get(context.database)
            if served is None:
                limit = int(context.settings.get("FEED_KEPT_BYTES") or KEPT_BYTES)
                served = _Served(FeedLookup(context.database.engine), KeptFeeds(limit))
                _SERVED[context.database] = served
    return served


def kept_feeds_of(context: CalendarContext) -> KeptFeeds:
    """The feeds kept for ``context``'s database (by this process)."""
    return _served(context).kept


# --- building -------------------------------------------------------------------------------

#: ``modified_at`` as the driver gives it (no conversion), for ``Entry``.
_RAW_MODIFIED_AT = type_coerce(MirrorTask.modified_at, NullType()).label("modified_raw")
#: What says which component a task has now (``Entry``), in the feed's order.
ENTRY_COLUMNS = (MirrorTask.id, MirrorTask.sequence, _RAW_MODIFIED_AT)

#: What rendering reads of a task and its card (``ical.TaskFields``, ``ical.CardFields``),
#: selected as plain columns: no ORM objects are made for a feed. Without calendar plugins
#: (which get the whole task) only two values of the task's data are read, by the database.
TASK_COLUMNS = (
    MirrorTask.id,
    MirrorTask.modified_at,
    MirrorTask.sequence,
    MirrorTask.all_day,
    MirrorTask.due_date,
    MirrorTask.due,
    MirrorCard.id.label("card_id"),
    MirrorCard.title,
    MirrorCard.product_id,
    _RAW_MODIFIED_AT,
)
DATA_COLUMNS = (MirrorTask.data,)
TEXT_COLUMNS = (
    MirrorTask.data["text"].as_string().label("text"),
    MirrorTask.data["type"].as_string().label("type"),
    MirrorTask.data["repeat"].label("repeat"),
)
#: Tasks read or rendered per query of their columns (the size of an ``IN`` list).
RENDER_BATCH = 500


class _Task(NamedTuple):
    id: int
    data: dict[str, Any]
    modified_at: datetime
    sequence: int
    all_day: bool
    due_date: date | None
    due: datetime


class _Card(NamedTuple):
    id: int
    title: str
    product_id: int | None


def build_feed(
    session: Session,
    context: CalendarContext,
    feed: FeedOwner,
    format: str,
    admin: bool,
    language: str = SOURCE_LANGUAGE,
    previous: BuiltFeed | None = None,
    keep: Callable[[list[Entry], str, str], object] | None = None,
) -> BuiltFeed:
    """The calendar of the user's shown tasks, from the entries of ``previous`` (the feed
    built before, if any) and the components kept in the mirror.

    ``feed`` is the feed token (or a row of ``FEED_QUERY``); ``admin`` says whether the user is
    an admin; ``language`` its owner's. With ``previous`` (in the same language) only the ids,
    sequences and dates of the shown tasks are read, and the components of the tasks that
    changed since; without, the kept components of all of them. A component not rendered yet
    (new, changed, or rendered by another renderer) is rendered now and kept for the next time:
    in ``session`` before this returns, or by ``keep`` (given the rendered entries, the key and
    the column, for ``store_renders`` of ``renders_of`` them) when the caller stores them later
    (``serve_feed``: after the answer).
    """
    with collection_paused():
        return _build(session, context, feed, format, admin, language, previous, keep)


def _build(
    session: Session,
    context: CalendarContext,
    feed: FeedOwner,
    format: str,
    admin: bool,
    language: str,
    previous: BuiltFeed | None,
    keep: Callable[[list[Entry], str, str], object] | None,
) -> BuiltFeed:
    renderer = context.renderer
    key, kind = renderer.key_for(language), FORMATS[format]
    column = MirrorTask.vtodo if kind == "VTODO" else MirrorTask.vevent
    shown = shown_tasks(feed.user_id, admin)
    # Rows straight from the database driver: ids and text need no conversion, and 5,000
    # rows of a feed are most of its time.
    connection = session.connection()
    reusable = previous.entries if previous is not None and previous.render_key == key else None
    slots, looked_up = _current_entries(connection, shown, column, key, reusable)
    stale = [slot for slot in slots if type(slot) is int]
    fresh: dict[int, Entry] = {}
    found: dict[int, Entry] = {}
    if stale:
        stored = None if looked_up else (column, key)
        fresh, found = _render(
            connection, renderer, shown, kind, language, stale, len(slots), stored
        )
    entries = [
        slot if isinstance(slot, Entry) else fresh.get(slot) or found.get(slot)
        for slot in slots
        # else it left the feed between the two reads: the next feed version says so
    ]
    texts = [entry.text for entry in entries if entry is not None]
    name = renderer.calendar_name(feed.calendar_name, language)
    body = renderer.calendar_of_bytes(texts, name=name, timezone=feed.timezone)
    if fresh:
        rendered = list(fresh.values())
        if keep is None:
            keep_renders(session, renders_of(rendered), key, column.key)
        else:
            keep(rendered, key, column.key)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    by_state = {entry[:3]: entry for entry in entries if entry is not None}
    return BuiltFeed(body, etag, key, by_state)


#: Builds under way in this process that hold the cyclic garbage collector off
#: (``collection_paused``), and whether it was on before the first of them.
_PAUSED = {"builds": 0, "was_enabled": False}
_PAUSED_LOCK = threading.Lock()


@contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic garbage collector held off while a feed is built.

    A cold build makes some 50,000 small objects (rows, components, entries) that live to its
    end: on the way they set off a full collection (gen 2) about one build in two, which walks
    every object of the process (its modules, the feeds kept) for some 60-80 ms and frees
    nothing, since a build makes no cycles. Held off, the collector runs at the next allocation
    after the build, over what the build left (its entries). Threads building at once share one
    pause; a collector turned off by someone else stays off."""
    with _PAUSED_LOCK:
        if _PAUSED["builds"] == 0:
            _PAUSED["was_enabled"] = gc.isenabled()
            gc.disable()
        _PAUSED["builds"] += 1
    try:
        yield
    finally:
        with _PAUSED_LOCK:
            _PAUSED["builds"] -= 1
            if _PAUSED["builds"] == 0 and _PAUSED["was_enabled"]:
                gc.enable()


def _current_entries(
    connection: Connection,
    shown: Select,
    column: Any,
    key: str,
    reusable: dict[tuple[Any, ...], Entry] | None,
) -> tuple[list[Entry | int], bool]:
    """The shown tasks in the feed's order: each one's current entry, or its id when it has
    no entry yet; and whether the components the mirror keeps were looked up for those.

    Entries come from ``reusable`` where the task is as it was, else from the components the
    mirror keeps (rendered by the renderer of ``key``). When most of the feed changed (every
    task's card renamed, a feed built again after all its tasks changed), the kept components
    are left for ``_render`` to read with what it renders from, in the same query."""
    stored = shown.with_only_columns(*ENTRY_COLUMNS, MirrorTask.render_key, column)
    if reusable is None:
        slots: list[Entry | int] = [
            Entry(task_id, sequence, modified, text.encode())
            if render_key == key and text is not None
            else task_id
            for task_id, sequence, modified, render_key, text in _raw(connection, stored)
        ]
        return slots, True
    # A row of ``ENTRY_COLUMNS`` is the key of the entry it still has (``BuiltFeed.entries``).
    slots = [
        reusable.get(row) or row[0]
        for row in _raw(connection, shown.with_only_columns(*ENTRY_COLUMNS))
    ]
    missing = [slot for slot in slots if type(slot) is int]
    if len(missing) * 2 > len(slots):
        return slots, False
    found: dict[int, Entry] = {}
    for start in range(0, len(missing), RENDER_BATCH):
        batch = stored.where(MirrorTask.id.in_(missing[start : start + RENDER_BATCH]))
        for task_id, sequence, modified, render_key, text in _raw(connection, batch):
            if render_key == key and text is not None:
                found[task_id] = Entry(task_id, sequence, modified, text.encode())
    if found:
        slots = [found.get(slot, slot) if isinstance(slot, int) else slot for slot in slots]
    return slots, True


def _raw(connection: Connection, statement: Select) -> list[Any]:
    """The rows of ``statement`` as the driver gives them (no result processing)."""
    result = connection.execute(statement)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _render(
    connection: Connection,
    renderer: Any,
    shown: Select,
    kind: str,
    language: str,
    stale: list[int],
    total: int,
    stored: tuple[Any, str] | None = None,
) -> tuple[dict[int, Entry], dict[int, Entry]]:
    """The components of the ``stale`` tasks (of ``total`` shown), rendered in one context of
    the language (``Renderer.render_many``), by task id. The rows are read as plain columns,
    in batches; most of the feed (a cold build) in one query of all its tasks, which beats
    ``IN`` lists.

    With ``stored`` (the mirror's column of components and the renderer's key), a task whose
    component the mirror keeps is not rendered: its entry is made from it, in the second dict
    given."""
    plain = renderer.plain
    columns = TASK_COLUMNS + (TEXT_COLUMNS if plain else DATA_COLUMNS)
    if stored is not None:
        columns += (MirrorTask.render_key, stored[0])
    if len(stale) * 2 > total:
        wanted = set(stale)
        rows = _converted(connection, shown.with_only_columns(*columns))
        batches = [[row for row in rows if row[0] in wanted]]
    else:
        batches = [
            _converted(
                connection,
                shown.with_only_columns(*columns).where(
                    MirrorTask.id.in_(stale[start : start + RENDER_BATCH])
                ),
            )
            for start in range(0, len(stale), RENDER_BATCH)
        ]
    fresh: dict[int, Entry] = {}
    found: dict[int, Entry] = {}
    if stored is not None:
        key = stored[1]
        for batch in batches:
            for row in batch:
                if row[-2] == key and row[-1] is not None:
                    found[row[0]] = Entry(row[0], row[2], row[9], row[-1].encode())
        if found:
            batches = [[row for row in batch if row[0] not in found] for batch in batches]
    for batch in batches:
        pairs = [(_Task(row[0], _data(row, plain), *row[1:6]), _Card(*row[6:9])) for row in batch]
        rendered = renderer.render_many(kind, pairs, language)
        for row, text in zip(batch, rendered, strict=True):
            fresh[row[0]] = Entry(row[0], row[2], row[9], text.encode())
    return fresh, found


def _converted(connection: Connection, statement: Select) -> list[tuple[Any, ...]]:
    """The rows of ``statement``, each value as SQLAlchemy's result gives it (the column
    type's result processor for the dialect), converted once per distinct value of a column.

    A feed's tasks share their times of change, their cards and their (absent) repeat rules,
    and the processors (instants parsed from SQLite's text, JSON decoded) were a fifth of a
    cold build when run on every row. A value that converts to a dict or a list is converted
    for each row: no two rows share one."""
    rows = _raw(connection, statement)
    if not rows:
        return []
    dialect = connection.dialect
    columns: list[Any] = list(zip(*rows, strict=True))
    for index, column in enumerate(statement.selected_columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is None:
            continue
        values = columns[index]
        try:
            distinct = {value: process(value) for value in set(values)}
        except TypeError:  # values that cannot be told apart by hashing
            columns[index] = [process(value) for value in values]
            continue
        columns[index] = [
            process(value) if isinstance(done := distinct[value], dict | list) else done
            for value in values
        ]
    return list(zip(*columns, strict=True))


def _data(row: Any, plain: bool) -> dict[str, Any]:
    """The task's data as rendering reads it: all of it for plugins, else its text, type and
    repeat (``ical.repeat_rule``)."""
    if plain:
        return {"text": row[10], "type": row[11], "repeat": row[12]}
    return row[10]


def keep_renders(session: Session, fresh: list[dict[str, Any]], key: str, column: str) -> None:
    """Keep components rendered on the way, unless the task changed since (its sequence).

    ``fresh`` holds ``task_id``, ``seq`` and ``text`` of each. The rows go to the driver's
    ``executemany`` through ``bulk.execute_many``: a cold feed keeps 5,000 components, and
    SQLAlchemy's work on each row's parameters cost about as much as the database's."""
    _write(session, lambda: store_renders(session, fresh, key, column))


def renders_of(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """``keep_renders``' rows of rendered entries."""
    return [
        {"task_id": entry.id, "seq": entry.sequence, "text": entry.text.decode()}
        for entry in entries
    ]


def store_renders(session: Session, fresh: list[dict[str, Any]], key: str, column: str) -> None:
    """``keep_renders`` in the caller's write transaction."""
    rows = [{**values, "key": key} for values in fresh]
    execute_many(session, _keep_statement(column), rows)


@functools.cache
def _keep_statement(column: str) -> Update:
    """``keep_renders``' UPDATE of ``column`` (``vtodo`` or ``vevent``), built once."""
    # A mapped class's ``__table__`` is its Table (SQLAlchemy's types say FromClause).
    table = cast(Table, MirrorTask.__table__)
    other = table.c.vevent if column == "vtodo" else table.c.vtodo
    key = bindparam("key", type_=table.c.render_key.type)
    return (
        update(table)
        .where(table.c.id == bindparam("task_id"), table.c.sequence == bindparam("seq"))
        .values(
            {
                table.c.render_key: key,
                table.c[column]: bindparam("text"),
                # The other format stays only if it was rendered by the same renderer.
                other: case((table.c.render_key == key, other), else_=None),
            }
        )
    )


def _remember(
    session: Session,
    user_id: int,
    format: str,
    version: int,
    key: str,
    etag: str,
    now: datetime,
) -> None:
    """Store the ETag of a feed version for every process (``FEED_QUERY``), in the caller's
    write transaction."""
    values = {
        "user_id": user_id,
        "format": format,
        "version": version,
        "render_key": key,
        "etag": etag,
        "built_at": now,
    }
    update_values = {name: values[name] for name in ("version", "render_key", "etag", "built_at")}
    upsert(session, FeedRender, [values], ["user_id", "format"], update_values)


def _write(session: Session, action: Callable[[], object]) -> None:
    # A GET that cannot store what it computed still answers: the next one computes it again.
    try:
        with write_transaction(session):
            action()
    except Exception:
        log.exception("could not keep what a feed request computed")


def _matches(if_none_match: list[str], etag: str) -> bool:
    bare = etag.strip('"')
    return any(tag == "*" or tag.removeprefix("W/").strip('"') == bare for tag in if_none_match)


def _seconds(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)
