"""Following core's event feed with a cursor kept in the sidecar's own database.

Each batch of events is handled and the cursor moved in the same transaction of the sidecar's
database, so a crash at any point either keeps both or neither: after a restart the worker
resumes at the first event whose effects were not committed. Handlers must be idempotent
where an effect leaves the database (an e-mail, a CalDAV request): they record what they did
under a unique key before or after doing it: the key is the event's ``uid``, never its ``id``.

Following a core that is not the history the cursor stands in (core's database restored from an
older backup alone, or replaced) is noticed, not waited out: each page of the feed says core's
``newest_id``, its database ``incarnation`` and the ``after_uid`` of the event at the cursor.
Core has gone back when its newest event is older than the cursor, when its incarnation is not
the one the cursor was made with, or when the event at the cursor has another ``uid`` than the
one handled there. Then the follower logs a warning, records why and when on its cursor row
(shown by the sidecar's ``/healthz``) and rewinds to the start of the feed: every event core has
is read again. Events handled before carry the ``uid`` they had, so their effects are not made
twice (handlers key them by ``uid``); events made since the restore are new and are handled.
Rewinding to the start is the one place known to be safe: the cursor cannot tell where core's
history and the one followed parted, and a feed is read at thousands of events a second.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cardcrm.common.db import UTCDateTime, WriteSessions
from cardcrm.common.timeutil import isoformat_z
from sqlalchemy import BigInteger, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from .core_client import CoreClient, CoreError

log = logging.getLogger(__name__)

Handler = Callable[[Session, dict[str, Any]], None]


class EventCursorColumns:
    """Where a follower of core's events is, one row per follower (table ``feed_cursors``),
    declared by a sidecar on its own base: ``class EventCursor(EventCursorColumns, Base)``."""

    __tablename__ = "feed_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: core's ``events.id`` is a BIGINT on PostgreSQL: so is the cursor.
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The ``uid`` of the event at ``last_id``: core must still have it there.
    last_uid: Mapped[str | None] = mapped_column(String(36), default=None)
    #: Core's database incarnation the cursor stands in.
    incarnation: Mapped[str | None] = mapped_column(String(36), default=None)
    #: When the follower last found core behind its cursor and rewound, and why.
    rewound_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True), default=None)
    rewind_reason: Mapped[str | None] = mapped_column(String(300), default=None)


def behind_reason(
    page: dict[str, Any], last_id: int, last_uid: str | None, incarnation: Any
) -> str | None:
    """Why core's feed (``page``, read after ``last_id``) is not the history the cursor stands
    in; ``None`` when it is. A core that does not say (an older version) is taken at its word."""
    newest = page.get("newest_id")
    if isinstance(newest, int) and newest < last_id:
        return f"core's newest event {newest} is behind the cursor {last_id}"
    served = page.get("incarnation")
    if incarnation and served and served != incarnation:
        return f"core's database is another one (incarnation {served}, was {incarnation})"
    if last_id and last_uid and "after_uid" in page and page["after_uid"] != last_uid:
        return f"core's event {last_id} is not the one handled there"
    return None


def feed_health(sessions: WriteSessions | sessionmaker[Session], cursor: Any) -> dict[str, Any]:
    """``/healthz``'s ``feed``: each follower's place in core's feed, and its last rewind
    (``rewound_at``, ``rewind_reason``: when and why it found core behind its cursor)."""

    with sessions() as session:
        rows = session.scalars(select(cursor).order_by(cursor.name))
        return {
            "feed": {
                row.name: {
                    "last_id": row.last_id,
                    "rewound_at": isoformat_z(row.rewound_at),
                    "rewind_reason": row.rewind_reason,
                }
                for row in rows
            }
        }


class EventFollower:
    """Reads events after the stored cursor and hands each to ``handle``."""

    def __init__(
        self,
        name: str,
        client: CoreClient,
        sessions: WriteSessions | sessionmaker[Session],
        cursor: Any,
        handle: Handler,
        *,
        batch: int = 200,
        wait: float = 20.0,
        max_backoff: float = 30.0,
        on_handled: Callable[[int], None] | None = None,
        events_per_transaction: int = 1,
        on_rewind: Callable[[Session, int], None] | None = None,
    ) -> None:
        self.name = name
        self.client = client
        self.sessions = sessions
        self.cursor = cursor
        self.handle = handle
        self.batch = batch
        self.wait = wait
        self.max_backoff = max_backoff
        #: Called by ``run`` after a step that handled events (committed), with their number.
        self.on_handled = on_handled
        #: Events handled in one transaction of the sidecar's database (with the cursor's
        #: move). More than one makes a backlog much cheaper to work through; a failure
        #: then redoes the whole group, so handlers must be idempotent anyway.
        self.events_per_transaction = max(1, events_per_transaction)
        self.failures = 0
        #: Called in the transaction that rewinds the cursor, with core's newest event id:
        #: a sidecar that must not trust its state until it has read that far marks it.
        self.on_rewind = on_rewind

    def position(self) -> int:
        return self._where()[0]

    def _where(self) -> tuple[int, str | None, str | None]:
        with self.sessions() as session:
            row = session.get(self.cursor, self.name)
            return (row.last_id, row.last_uid, row.incarnation) if row else (0, None, None)

    def step(self, wait: float | None = None) -> int:
        """Read and handle one batch; returns how many events were handled.

        A page showing core behind the cursor rewinds it (see the module's docstring), and
        the step goes on with the first page of core's feed.
        """
        after, last_uid, incarnation = self._where()
        page = self.client.events(after, self.batch, self.wait if wait is None else wait)
        reason = behind_reason(page, after, last_uid, incarnation)
        if reason is not None:
            self._rewind(after, last_uid, page, reason)
            after = self.position()
            page = self.client.events(after, self.batch, 0)
        handled = 0
        items, size = page["items"], self.events_per_transaction
        for group in (items[start : start + size] for start in range(0, len(items), size)):
            with self.sessions.begin() as session:
                row = session.scalar(
                    select(self.cursor).where(self.cursor.name == self.name).with_for_update()
                )
                if row is None:
                    row = self.cursor(name=self.name, last_id=0)
                    session.add(row)
                # Events up to the cursor were handled by another worker meanwhile.
                fresh = [event for event in group if event["id"] > row.last_id]
                for event in fresh:
                    self.handle(session, event)
                if fresh:
                    row.last_id = fresh[-1]["id"]
                    row.last_uid = fresh[-1].get("uid")
                    row.incarnation = page.get("incarnation") or row.incarnation
            handled += len(fresh)
        return handled

    def _rewind(self, after: int, last_uid: str | None, page: dict[str, Any], reason: str) -> None:
        """Move the cursor to the start of core's feed, unless another worker moved it since."""
        with self.sessions.begin() as session:
            row = session.scalar(
                select(self.cursor).where(self.cursor.name == self.name).with_for_update()
            )
            if row is None or row.last_id != after or row.last_uid != last_uid:
                return
            log.warning(
                "%s: %s (restored from a backup?); reading core's events again from the start",
                self.name,
                reason,
            )
            row.last_id = 0
            row.last_uid = None
            row.incarnation = page.get("incarnation") or row.incarnation
            row.rewound_at = datetime.now(UTC)
            row.rewind_reason = reason[:300]
            if self.on_rewind is not None:
                self.on_rewind(session, int(page.get("newest_id") or 0))

    def catch_up(self, max_steps: int = 1000) -> int:
        """Handle every event there is now, without waiting; returns how many."""
        total = 0
        for _ in range(max_steps):
            handled = self.step(wait=0)
            total += handled
            if handled == 0:
                break
        return total

    def run(self, stop: threading.Event) -> None:
        """Follow the feed until ``stop`` is set, backing off while core is unreachable."""
        while not stop.is_set():
            try:
                handled = self.step()
                self.failures = 0
                if handled and self.on_handled is not None:
                    self.on_handled(handled)
            except CoreError as error:
                self.failures += 1
                delay = min(self.max_backoff, 0.5 * 2 ** min(self.failures, 8))
                delay *= random.uniform(0.5, 1.0)
                log.warning("%s: core feed failed (%s); retrying in %.1fs", self.name, error, delay)
                stop.wait(delay)
            except Exception:
                self.failures += 1
                log.exception("%s: handling an event failed; retrying", self.name)
                stop.wait(min(self.max_backoff, 2.0 * self.failures))
