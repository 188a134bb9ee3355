"""Secret feed URLs and serving a user's tasks as an iCal feed.

A feed token carries 192 random bits and is stored as its SHA-256; making a new one revokes
the previous. Serving checks ``If-None-Match`` against the ETag kept for the user's current
feed version before anything is built, so an unchanged feed costs one indexed query.

A feed shows only tasks on cards its user may see (``mirror.shown_tasks``). Whether the user
is an admin comes from core (cached); if core cannot say, the feed is not served (503) rather
than built on a guess. That flag is part of the key of the ETag kept, since a change of it is
no event and no new feed version.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, Protocol, cast

from cardcrm.common.db import upsert, write_transaction
from cardcrm.common.errors import CoreUnreachable, NotFound
from cardcrm.common.i18n import SOURCE_LANGUAGE
from cardcrm.sidecar.core_client import CoreUnavailable
from sqlalchemy import CursorResult, Table, and_, bindparam, case, select, update
from sqlalchemy.orm import Session

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

#: A token's feed: who, its version and the ETag served for it. Built once: this query is
#: the whole of a 304.
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


def serve_feed(
    session: Session,
    context: CalendarContext,
    token: str,
    format: str,
    if_none_match: list[str] | None,
    if_modified_since: datetime | None,
) -> FeedAnswer:
    """The feed for ``token`` as a 200 or a 304 (``If-None-Match`` wins over the date)."""
    # Through the connection (a Core query of columns): the ORM's execution adds nothing here
    # but time, and this query is the whole of a 304.
    feed = (
        session.connection()
        .execute(FEED_QUERY, {"token_hash": hash_token(token), "format": format})
        .first()
    )
    if feed is None:
        raise NotFound("No such feed.")
    if context.catching_up(session):
        raise CoreUnreachable("The calendar is catching up with cardcrm; try again shortly.")
    try:
        admin = context.is_admin(feed.user_id)
    except CoreUnavailable:
        raise CoreUnreachable("cardcrm cannot be reached; try again shortly.") from None
    version = feed.version or 0
    last_modified = _seconds(max(feed.changed_at or feed.created_at, feed.created_at))
    language = context.language_of(feed.user_id)
    key = feed_key(context.renderer.key_for(language), admin)
    known = feed.etag if (feed.built_version, feed.render_key) == (version, key) else None
    if if_none_match is not None:
        if known and _matches(if_none_match, known):
            return FeedAnswer(304, known, last_modified)
    elif if_modified_since is not None and known and last_modified <= if_modified_since:
        return FeedAnswer(304, known, last_modified)

    body = build_feed(session, context, feed, format, admin, language)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if etag != known:
        _remember(session, feed.user_id, format, version, key, etag, context)
    if if_none_match is not None and _matches(if_none_match, etag):
        return FeedAnswer(304, etag, last_modified)
    return FeedAnswer(200, etag, last_modified, body)


def feed_key(render_key: str, admin: bool) -> str:
    """What a served feed's bytes depend on besides its version: the renderer, and whether
    its user is an admin (``FeedRender.render_key``)."""
    return f"{render_key}:{'admin' if admin else 'user'}"


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
)
DATA_COLUMNS = (MirrorTask.data,)
TEXT_COLUMNS = (
    MirrorTask.data["text"].as_string().label("text"),
    MirrorTask.data["type"].as_string().label("type"),
    MirrorTask.data["repeat"].label("repeat"),
)
#: Tasks rendered per query of their columns (the size of an ``IN`` list).
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
) -> bytes:
    """The calendar of the user's shown tasks, from the components kept in the mirror.

    ``feed`` is the feed token (or a row of ``FEED_QUERY``); ``admin`` says whether the user is
    an admin; ``language`` its owner's. A component not rendered yet (new, changed, or
    rendered by another renderer) is rendered now and kept for the next time.

    The kept components are read as plain columns and joined as they are; the tasks to render
    are read as plain columns too (``RENDER_COLUMNS``), in batches, and rendered in one context
    of the language (``Renderer.render_many``).
    """
    renderer = context.renderer
    key, kind = renderer.key_for(language), FORMATS[format]
    column = MirrorTask.vtodo if kind == "VTODO" else MirrorTask.vevent
    shown = shown_tasks(feed.user_id, admin)
    # Rows straight from the database driver: ids and text need no conversion, and 5,000
    # rows of a warm feed are most of its time.
    connection = session.connection()
    result = connection.execute(
        shown.with_only_columns(MirrorTask.id, MirrorTask.render_key, column)
    )
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    parts: list[str | None] = []
    stale: list[int] = []
    for task_id, render_key, text in rows:
        if render_key == key and text is not None:
            parts.append(text)
        else:
            parts.append(None)
            stale.append(task_id)
    fresh: dict[int, dict[str, Any]] = {}
    plain = renderer.plain
    columns = TASK_COLUMNS + (TEXT_COLUMNS if plain else DATA_COLUMNS)
    if len(stale) * 2 > len(rows):
        # Most of the feed (a cold build): one query of all its tasks beats IN lists.
        wanted = set(stale)
        batches = [
            [
                row
                for row in connection.execute(shown.with_only_columns(*columns))
                if row[0] in wanted
            ]
        ]
    else:
        batches = [
            list(
                connection.execute(
                    shown.with_only_columns(*columns).where(
                        MirrorTask.id.in_(stale[start : start + RENDER_BATCH])
                    )
                )
            )
            for start in range(0, len(stale), RENDER_BATCH)
        ]
    for batch in batches:
        pairs = [(_Task(row[0], _data(row, plain), *row[1:6]), _Card(*row[6:9])) for row in batch]
        for (task, _card), rendered in zip(
            pairs, renderer.render_many(kind, pairs, language), strict=True
        ):
            fresh[task.id] = {"task_id": task.id, "seq": task.sequence, "text": rendered}
    if stale:
        for index, (task_id, _key, _text) in enumerate(rows):
            if parts[index] is None and task_id in fresh:
                parts[index] = fresh[task_id]["text"]
        # else it left the feed between the two reads: the next feed version says so
    name = renderer.calendar_name(feed.calendar_name, language)
    body = renderer.calendar(
        [part for part in parts if part is not None] if stale else cast("list[str]", parts),
        name=name,
        timezone=feed.timezone,
    )
    if fresh:
        keep_renders(session, list(fresh.values()), key, column.key)
    return body


def _data(row: Any, plain: bool) -> dict[str, Any]:
    """The task's data as rendering reads it: all of it for plugins, else its text, type and
    repeat (``ical.repeat_rule``)."""
    if plain:
        return {"text": row[9], "type": row[10], "repeat": row[11]}
    return row[9]


def keep_renders(session: Session, fresh: list[dict[str, Any]], key: str, column: str) -> None:
    """Keep components rendered on the way, unless the task changed since (its sequence)."""
    # A mapped class's ``__table__`` is its Table (SQLAlchemy's types say FromClause).
    table = cast(Table, MirrorTask.__table__)
    other = table.c.vevent if column == "vtodo" else table.c.vtodo
    statement = (
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
    _write(session, lambda: session.connection().execute(statement, fresh))


def _remember(
    session: Session,
    user_id: int,
    format: str,
    version: int,
    key: str,
    etag: str,
    context: CalendarContext,
) -> None:
    values = {
        "user_id": user_id,
        "format": format,
        "version": version,
        "render_key": key,
        "etag": etag,
        "built_at": context.clock(),
    }
    update_values = {name: values[name] for name in ("version", "render_key", "etag", "built_at")}
    _write(
        session,
        lambda: upsert(session, FeedRender, [values], ["user_id", "format"], update_values),
    )


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
