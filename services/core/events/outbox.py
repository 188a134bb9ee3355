"""The transactional outbox: every write in core appends its events in its own transaction.

Service functions call ``record_event`` with an ``EventType`` of the event contract
(``cardcrm.common.events``), which checks the payload at once: an event that breaks the contract
fails the write that makes it. The events are inserted just before the transaction commits,
so a rolled-back change leaves no event and a committed one always has its events.
On PostgreSQL the insert takes a transaction-scoped advisory lock, which makes events commit
in id order: a reader following ``after=N`` can never pass over an event that commits late.
After the commit, the ``cardcrm_event_committed`` hook is called with each event, and this
process's long-polls are woken (``EventNotifier``); on PostgreSQL the transaction also sends
``NOTIFY`` with its last event id, delivered on commit, which wakes the long-polls of the other
core processes (``listen.py``).

Bulk writes (a CSV import's thousands of cards) record their events with ``insert_events``
instead: one statement for many events, inserted at once (so, on PostgreSQL, it is the
transaction's last write: the advisory lock is held from there to the commit), dispatched after
the commit like the others. Decision: there, the first event of each type in the call is
checked against the contract and the others only by type. They are made by the same code from
values already checked, so one check per type catches a payload that breaks the contract, while
checking each (0.04 ms) would be a tenth of the import's time per card.

Each event has two ids. ``id``, the integer, is the feed's cursor: it orders events and says
where a reader is. ``uid``, a random UUID minted with the event, is its name for the world
(webhook bodies and ``X-Cardcrm-Event-Id``, e-mail ``Message-ID`` headers, the sidecars' keys for
what they did): integers are reused when core's database is restored from a backup, UUIDs never
are, so a receiver that deduplicates on ``uid`` never drops a genuine event. The database's
``incarnation`` (table ``database_incarnation``, one row made by the migration that added
``uid``) tells readers which database they follow: see ``incarnation``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from cardcrm.common.bulk import JsonText, execute_many, json_rows, json_text, reserve_ids
from cardcrm.common.events import EventType, validate_event
from cardcrm.common.timeutil import isoformat_z, utcnow
from cardcrm.core.base import Base
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from ..cards.history import take_pending_json
from .listen import CHANNEL

log = logging.getLogger(__name__)

#: An event as ``cardcrm_event_committed`` gets it (``Event.as_dict``).
EVENT_KEYS = ("id", "uid", "type", "at", "actor_id", "data")
#: Key of the advisory lock that orders event commits on PostgreSQL.
EVENT_LOCK_KEY = 0x63617264  # "card"


def new_uid() -> str:
    """A new event's ``uid``: a random UUID, unique across every database and restore."""
    return str(uuid.uuid4())


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    #: The event's globally unique name (see the module's docstring); never reused.
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uid": self.uid,
            "type": self.type,
            "at": isoformat_z(self.at),
            "actor_id": self.actor_id,
            "data": self.data,
        }


def record_event(
    session: Session, type: EventType, data: dict[str, Any], actor: Any = None
) -> None:
    """Queue an event to be written with the current transaction.

    Raises ``EventContractError`` for a type the contract lacks or a payload that breaks it.
    """
    kind = validate_event(type, data)
    pending = session.info.setdefault("pending_events", [])
    pending.append((kind.value, data, getattr(actor, "id", None)))


def insert_events(
    session: Session,
    events: Sequence[tuple[EventType, dict[str, Any], JsonText | None]],
    actor: Any = None,
    at: datetime | None = None,
) -> None:
    """Write many events now, in one statement, to be dispatched after the commit.

    Each event is ``(type, data, text)``: ``text`` is ``data`` already serialized (or None).
    Raises ``EventContractError`` when the first event of a type breaks the contract.
    """
    if not events:
        return
    checked: set[EventType] = set()
    for kind, data, _text in events:
        if kind not in checked:
            validate_event(kind, data)
            checked.add(kind)
    _lock_event_order(session)
    at = at or utcnow()
    actor_id = getattr(actor, "id", None)
    ids = reserve_ids(session, Event.__table__, len(events))
    rows = [
        {
            "id": event_id,
            "uid": new_uid(),
            "type": kind.value,
            "at": at,
            "actor_id": actor_id,
            "data": text or data,
        }
        for event_id, (kind, data, text) in zip(ids, events, strict=True)
    ]
    execute_many(session, insert(Event), rows)
    _notify_on_commit(session, ids[-1])
    stamp = isoformat_z(at) or ""
    session.info.setdefault("committed_events", []).extend(
        (row["id"], row["uid"], row["type"], stamp, actor_id, data)
        for row, (_kind, data, _text) in zip(rows, events, strict=True)
    )


def _lock_event_order(session: Session) -> None:
    """On PostgreSQL, events commit in id order: one transaction at a time inserts them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_LOCK_KEY})


def _notify_on_commit(session: Session, last_id: int) -> None:
    """On PostgreSQL, other core processes hear of the events when (and if) they commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": str(last_id)},
        )


#: A write's events on PostgreSQL in one statement: the advisory lock that orders event
#: commits (taken before the rows get their ids: they are made from the joined lock's row),
#: the rows, and each id's ``NOTIFY`` (delivered on commit). It was three statements, and the
#: ORM's flush of ``Event`` objects a tenth of a card write's time. The write's card history
#: rows go in too (``cards.history.take_pending_json``), in a data-modifying ``WITH``: their
#: own statement was one round trip more per write.
#: Rows arrive as one JSON text each (``json_rows``: one statement text whatever their
#: number, so psycopg prepares it once), each payload as the text ``json.dumps`` made, which
#: ``->`` gives unchanged and the ``json`` columns store as it is.
_INSERT_EVENTS = text(
    """
    WITH history AS (
        INSERT INTO card_history (card_id, task_id, type, at, user_id, positive, data)
        SELECT CAST(h.row ->> 0 AS integer), CAST(h.row ->> 1 AS integer), h.row ->> 2,
               CAST(h.row ->> 3 AS timestamptz), CAST(h.row ->> 4 AS integer),
               CAST(h.row ->> 5 AS boolean), h.row -> 6
        FROM json_array_elements(CAST(:history AS json)) WITH ORDINALITY AS h(row, position)
        ORDER BY h.position
    )
    INSERT INTO events (uid, type, at, actor_id, data)
    SELECT e.row ->> 0, e.row ->> 1, :at, CAST(e.row ->> 2 AS integer), e.row -> 3
    FROM (SELECT pg_advisory_xact_lock(:key)) AS event_order,
         json_array_elements(CAST(:events AS json)) WITH ORDINALITY AS e(row, position)
    ORDER BY e.position
    RETURNING id, pg_notify(:channel, CAST(id AS text))
    """
).bindparams(bindparam("at", type_=Event.__table__.c.at.type))


def _insert_pending(
    session: Session,
    pending: list[tuple[str, dict[str, Any], int | None]],
    uids: list[str],
    at: datetime,
) -> list[int]:
    """Insert a transaction's events (``record_event``), on PostgreSQL with its queued card
    history rows; the events' ids, in the order given."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            _INSERT_EVENTS,
            {
                "key": EVENT_LOCK_KEY,
                "channel": CHANNEL,
                "at": at,
                "history": take_pending_json(session),
                "events": json_rows(
                    ((uid, kind, actor), json_text(data))
                    for uid, (kind, data, actor) in zip(uids, pending, strict=True)
                ),
            },
        )
        return sorted(row[0] for row in rows)  # ids are given in the rows' order
    statement = insert(Event).returning(Event.id)
    return [
        session.execute(
            statement, {"uid": uid, "type": kind, "at": at, "actor_id": actor, "data": data}
        ).scalar_one()
        for uid, (kind, data, actor) in zip(uids, pending, strict=True)
    ]


def read_events(session: Session, after: int, limit: int) -> list[Event]:
    return list(
        session.scalars(select(Event).where(Event.id > after).order_by(Event.id).limit(limit))
    )


def read_event_rows(
    session: Session, after: int, limit: int
) -> list[tuple[int, str, str, datetime, int | None, str]]:
    """Events after ``after`` as plain rows, ``data`` as its stored JSON text (fast to serve)."""
    query = (
        select(Event.id, Event.uid, Event.type, Event.at, Event.actor_id, cast(Event.data, Text))
        .where(Event.id > after)
        .order_by(Event.id)
        .limit(limit)
    )
    return list(session.execute(query).all())


def newest_event_id(session: Session) -> int:
    """The id of the newest event, 0 when there is none."""
    return session.scalar(select(func.max(Event.id))) or 0


def event_uid(session: Session, event_id: int) -> str | None:
    """The ``uid`` of the event ``event_id``; ``None`` when there is no such event."""
    return session.scalar(select(Event.uid).where(Event.id == event_id))


class DatabaseIncarnation(Base):
    """One row: a random id made with core's database (by its migration), kept by backups.

    A reader that finds another incarnation than the one it followed is following another
    database (a new one, or another installation's): its cursor means nothing there.
    """

    __tablename__ = "database_incarnation"

    #: Always 1: the table holds one row.
    singleton: Mapped[int] = mapped_column(Integer, primary_key=True)
    incarnation: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def incarnation(session: Session) -> str:
    """This database's incarnation; made here if the row is missing (a database built
    without the migrations)."""
    value = session.scalar(select(DatabaseIncarnation.incarnation))
    if value is None:
        row = DatabaseIncarnation(singleton=1, incarnation=new_uid())
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # another request made it first
            session.rollback()
        value = session.scalar(select(DatabaseIncarnation.incarnation))
    return str(value)


class EventNotifier:
    """Wakes long-polling readers in this process when events commit (here or, heard through
    ``EventListener``, in another core process), and when the process stops.

    ``last_id`` only ever grows: a reader takes it before it reads and waits for it to change.
    ``wake`` makes it change without a new event, so that readers look at the database again.
    """

    def __init__(self, max_waiting: int | None = None) -> None:
        self._condition = threading.Condition()
        self.last_id = 0
        self._wakes = 0
        self.stopping = False
        #: How many readers of this process may wait at once (``None``: any number); see
        #: ``waiting_slot``.
        self.max_waiting = max_waiting
        self.waiting = 0

    def notify(self, last_id: int) -> None:
        with self._condition:
            self.last_id = max(self.last_id, last_id)
            self._wakes += 1
            self._condition.notify_all()

    def wake(self) -> None:
        with self._condition:
            self._wakes += 1
            self._condition.notify_all()

    def stop(self) -> None:
        """The process is stopping: waiting readers answer now, and none waits from now on."""
        with self._condition:
            self.stopping = True
            self._condition.notify_all()

    @property
    def seen(self) -> int:
        """What a reader takes before it reads, to pass to ``wait_for_newer``."""
        return self._wakes

    @contextmanager
    def waiting_slot(self) -> Iterator[bool]:
        """Whether the reader may wait long: true while fewer than ``max_waiting`` do.

        Each long-poll holds one of the server's threads while it waits. Followers that all
        long-poll the same process would hold every thread, and the next request of anyone would
        queue behind them until one answered (up to the feed's longest wait); the ones over the
        limit wait one poll interval at most instead.
        """
        with self._condition:
            granted = self.max_waiting is None or self.waiting < self.max_waiting
            if granted:
                self.waiting += 1
        try:
            yield granted
        finally:
            if granted:
                with self._condition:
                    self.waiting -= 1

    def wait_for_newer(self, seen: int, timeout: float) -> None:
        """Return when something committed or woke readers since ``seen``, or after ``timeout``."""
        with self._condition:
            self._condition.wait_for(lambda: self._wakes != seen or self.stopping, timeout)


def install(factory: sessionmaker, plugins: Any, notifier: EventNotifier) -> None:
    """Attach the outbox to every session ``factory`` makes."""

    # First of the session's ``before_commit`` listeners (``insert``): on PostgreSQL it takes
    # the card history rows queued in the transaction into the events' statement before
    # ``cards.history``'s own listener would insert them in a statement of their own.
    @event.listens_for(factory, "before_commit", insert=True)
    def _write_pending(session: Session) -> None:
        pending = session.info.pop("pending_events", None)
        if not pending:
            return
        session.flush()  # the writes the events tell of go first (as the ORM's flush did)
        at = utcnow()
        uids = [new_uid() for _ in pending]
        ids = _insert_pending(session, pending, uids, at)
        stamp = isoformat_z(at)
        session.info.setdefault("committed_events", []).extend(
            (event_id, uid, kind, stamp, actor, data)
            for event_id, uid, (kind, data, actor) in zip(ids, uids, pending, strict=True)
        )

    @event.listens_for(factory, "after_commit")
    def _dispatch(session: Session) -> None:
        rows = session.info.pop("committed_events", None)
        if not rows:
            return
        notifier.notify(rows[-1][0])
        implementations = plugins.hook.cardcrm_event_committed.get_hookimpls()
        if not implementations:
            return
        for row in rows:
            event_dict = dict(zip(EVENT_KEYS, row, strict=True))  # as the feed serves it
            # Each plugin on its own: one that fails must not keep the event from the others.
            for impl in reversed(implementations):  # pluggy's calling order: last registered first
                try:
                    impl.function(**{name: event_dict for name in impl.argnames})
                except Exception:
                    log.exception(
                        "cardcrm_event_committed of plugin %r failed for event %s",
                        impl.plugin_name,
                        event_dict["id"],
                    )

    @event.listens_for(factory, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop("pending_events", None)
        session.info.pop("committed_events", None)
