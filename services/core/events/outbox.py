"""The transactional outbox: every write in core appends its events in its own transaction.

Service functions call ``record_event`` with an ``EventType`` of the event contract
(``cardcrm.common.events``), which checks the payload at once: an event that breaks the contract
fails the write that makes it. The events are inserted just before the transaction commits,
so a rolled-back change leaves no event and a committed one always has its events.
On PostgreSQL the insert takes a transaction-scoped advisory lock, which makes events commit
in id order: a reader following ``after=N`` can never pass over an event that commits late.
After the commit, the ``cardcrm_event_committed`` hook is called with each event.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from cardcrm.common.events import EventType, validate_event
from cardcrm.common.timeutil import isoformat_z, utcnow
from cardcrm.core.base import Base
from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, cast, event, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

log = logging.getLogger(__name__)

#: Key of the advisory lock that orders event commits on PostgreSQL.
EVENT_LOCK_KEY = 0x63617264  # "card"


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
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


def read_events(session: Session, after: int, limit: int) -> list[Event]:
    return list(
        session.scalars(select(Event).where(Event.id > after).order_by(Event.id).limit(limit))
    )


def read_event_rows(
    session: Session, after: int, limit: int
) -> list[tuple[int, str, datetime, int | None, str]]:
    """Events after ``after`` as plain rows, ``data`` as its stored JSON text (fast to serve)."""
    query = (
        select(Event.id, Event.type, Event.at, Event.actor_id, cast(Event.data, Text))
        .where(Event.id > after)
        .order_by(Event.id)
        .limit(limit)
    )
    return list(session.execute(query).all())


class EventNotifier:
    """Wakes long-polling readers in this process when events commit."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.last_id = 0

    def notify(self, last_id: int) -> None:
        with self._condition:
            self.last_id = max(self.last_id, last_id)
            self._condition.notify_all()

    def wait_for_newer(self, seen: int, timeout: float) -> None:
        """Return when an event newer than ``seen`` committed here, or after ``timeout``."""
        with self._condition:
            self._condition.wait_for(lambda: self.last_id != seen, timeout)


def install(factory: sessionmaker, plugins: Any, notifier: EventNotifier) -> None:
    """Attach the outbox to every session ``factory`` makes."""

    @event.listens_for(factory, "before_commit")
    def _write_pending(session: Session) -> None:
        pending = session.info.pop("pending_events", None)
        if not pending:
            return
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_LOCK_KEY})
        rows = [Event(type=kind, data=data, actor_id=actor) for kind, data, actor in pending]
        session.add_all(rows)
        session.flush()
        session.info["committed_events"] = rows

    @event.listens_for(factory, "after_commit")
    def _dispatch(session: Session) -> None:
        rows = session.info.pop("committed_events", None)
        if not rows:
            return
        notifier.notify(rows[-1].id)
        implementations = plugins.hook.cardcrm_event_committed.get_hookimpls()
        for row in rows:
            event_dict = row.as_dict()
            # Each plugin on its own: one that fails must not keep the event from the others.
            for impl in reversed(implementations):  # pluggy's calling order: last registered first
                try:
                    impl.function(**{name: event_dict for name in impl.argnames})
                except Exception:
                    log.exception(
                        "cardcrm_event_committed of plugin %r failed for event %s",
                        impl.plugin_name,
                        row.id,
                    )

    @event.listens_for(factory, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop("pending_events", None)
        session.info.pop("committed_events", None)
