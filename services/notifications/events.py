"""Handling core's events: keep what the service knows up to date, and apply the event rules.

The sidecar's ``EventFollower`` reads core's event feed and calls ``EventHandler`` for each
event inside the transaction that moves the ``EventCursor``, so an event's notifications and
deliveries are recorded if and only if the cursor passes it. Nothing is sent here: senders
pick up the deliveries.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cardcrm.common.timeutil import Clock, isoformat_z, utcnow
from cardcrm.sidecar.follower import EventCursorColumns
from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import access, known_cards
from .config import setting
from .db import Base
from .deliveries.service import notify
from .recipients import Recipients
from .reminders.service import parse_instant
from .reminders.service import track as track_tasks
from .rules import EVENT_RULES, card_of

if TYPE_CHECKING:
    from .context import NotificationsContext

log = logging.getLogger(__name__)


class EventCursor(EventCursorColumns, Base):
    """Where the worker is in core's event feed."""


FOLLOWER_NAME = "notifications"
DATA_ERRORS = (KeyError, TypeError, ValueError, AttributeError)
NOTIFY_SINCE = "notify_since"
#: ``worker_state`` row made by the migration that keyed notifications by the event's ``uid``:
#: the instant of that upgrade (events before it were keyed by their integer id).
KEYED_BY_UID_SINCE = "event_keys_by_uid_since"


class WorkerState(Base):
    """Small facts the worker keeps between runs (e.g. when it first started)."""

    __tablename__ = "worker_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


def first_start(context: NotificationsContext, now: datetime) -> datetime | None:
    """The instant of the worker's first start, recorded on it: events before it are history.

    ``None`` when NOTIFY_PAST_EVENTS is set (every event is news).
    """
    if setting(context.settings, "NOTIFY_PAST_EVENTS"):
        return None
    with context.db.writer.begin() as session:
        row = session.get(WorkerState, NOTIFY_SINCE)
        if row is None:
            row = WorkerState(name=NOTIFY_SINCE, value=isoformat_z(now))
            session.add(row)
        return parse_instant(row.value)


class EventHandler:
    def __init__(self, context: NotificationsContext, clock: Clock = utcnow) -> None:
        self.context = context
        self.clock = clock
        # its own client: the handler runs in the follower's thread
        self.recipients = Recipients(context.box, context.client())
        #: events before this only build state (``first_start``); ``None``: all notify
        self.notify_since: datetime | None = None
        self._keyed_by_uid_since: datetime | None = None
        self._keyed_by_uid_read = False

    def __call__(self, session: Session, event: dict[str, Any]) -> None:
        # An event this version does not understand (a data error, not a database one) is
        # logged and passed over: it must not hold up the event feed.
        try:
            known_cards.track(session, event)
            access.track(session, event)
            track_tasks(session, event)
            at = parse_instant(event["at"])
        except DATA_ERRORS:
            log.exception("cannot follow event %s", event.get("id"))
            return
        if self.notify_since is not None and at < self.notify_since:
            return
        now = self.clock()
        for rule, candidates_of in EVENT_RULES.items():
            try:
                candidates = candidates_of(session, event)
                card = card_of(session, event) if candidates else None
            except DATA_ERRORS:
                log.exception("rule %s failed on event %s", rule, event.get("id"))
                continue
            for preferences in self.recipients.decide(session, rule, candidates, card):
                notify(
                    session,
                    self.context.channels,
                    preferences,
                    rule=rule,
                    key=self.key_of(session, event, at),
                    type=event["type"],
                    at=at,
                    payload={**_public(event), "rule": rule},
                    now=now,
                    event_id=event["id"],
                    card_id=card.id if card else None,
                )

    def key_of(self, session: Session, event: dict[str, Any], at: datetime) -> str:
        """The notification's key of ``event``: ``event:<uid>``, or ``event:<id>`` for an event
        older than the upgrade to ``uid`` keys, so that one notified before it and read again
        (the follower rewinds when core is restored behind it) is recognised as notified."""
        if not self._keyed_by_uid_read:
            row = session.get(WorkerState, KEYED_BY_UID_SINCE)
            self._keyed_by_uid_since = parse_instant(row.value) if row else None
            self._keyed_by_uid_read = True
        if self._keyed_by_uid_since is not None and at < self._keyed_by_uid_since:
            return f"event:{event['id']}"
        return f"event:{event_name(event)}"


def event_name(event: dict[str, Any]) -> str:
    """The event's ``uid``: what names it in webhooks, e-mails and the notification's key.

    Never the integer ``id``, which core reuses after a restore from a backup: a receiver
    deduplicating on it would drop a genuine event, and the (user, rule, key) of a new event
    would collide with an old one's. (A core too old to serve ``uid`` falls back on ``id``.)
    """
    return str(event.get("uid") or event["id"])


def _public(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a webhook receives it: ``id`` is its ``uid``, ``seq`` core's integer id."""
    return {
        "id": event_name(event),
        "seq": event.get("id"),
        **{key: event.get(key) for key in ("type", "at", "actor_id", "data")},
    }
