"""Recording notifications with their deliveries, and the deliveries' state changes.

``notify`` is called by the event handler (in the transaction that moves the event cursor) and
by the scheduler; it writes a notification once per (user, rule, key) and a ``pending``
delivery per channel the user has. Senders then ``claim`` due deliveries (marking them
``sending`` with a lease), send them outside any transaction, and ``finish`` them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, and_, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .models import DUE_STATES, Delivery, Notification

#: The columns a notification is unique by: (user, rule, cause).
UNIQUE_NOTIFICATION = ["user_id", "rule", "key"]

if TYPE_CHECKING:
    from ..channels.base import Channel
    from ..preferences.effective import UserPreferences


def notify(
    session: Session,
    channels: dict[str, Channel],
    preferences: UserPreferences,
    *,
    rule: str,
    key: str,
    type: str,
    at: datetime,
    payload: dict[str, Any],
    now: datetime,
    event_id: int | None = None,
    card_id: int | None = None,
) -> int | None:
    """Record that the user is to be told, with a delivery per channel they have; the new
    notification's id, or ``None`` when this (user, rule, key) was recorded before."""
    user_id = preferences.user_id
    values = {
        "user_id": user_id,
        "rule": rule,
        "key": key,
        "event_id": event_id,
        "type": type,
        "at": at,
        "card_id": card_id,
        "payload": payload,
        "created_at": now,
    }
    # Plain INSERTs (no unit of work: this runs for every event the feed brings), the first
    # one doing nothing when the notification exists (an event handled twice, two workers).
    insert_new = _insert_for(session)(Notification).values(values)
    insert_new = insert_new.on_conflict_do_nothing(index_elements=UNIQUE_NOTIFICATION)
    notification_id = session.execute(insert_new.returning(Notification.id)).scalar()
    if notification_id is None:
        return None
    rows = []
    for channel in channels.values():
        if channel.address(preferences) is not None:
            reason = channel.unavailable()
            rows.append(
                {
                    "notification_id": notification_id,
                    "user_id": user_id,
                    "channel": channel.name,
                    "state": "skipped" if reason else "pending",
                    "attempts": 0,
                    "last_error": reason,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if rows:
        session.execute(insert(Delivery), rows)
    return notification_id


def _insert_for(session: Session) -> Any:
    """``INSERT`` of the session's dialect (both have ``ON CONFLICT DO NOTHING``)."""
    dialect = session.get_bind().dialect.name
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


def claim(session: Session, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
    """Take up to ``limit`` due deliveries for sending: ``sending`` until ``now + lease``.

    Due are pending and retrying deliveries whose time has come, and ``sending`` ones whose
    lease ran out (their sender died between marking and finishing: sent again, at least
    once). Call inside a write transaction; on PostgreSQL rows other senders hold are skipped.
    """
    ids = list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.state.in_(DUE_STATES), Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            state="sending",
            attempts=Delivery.attempts + 1,
            next_attempt_at=now + lease,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


def finish(
    session: Session,
    delivery: Delivery,
    now: datetime,
    state: str,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record the outcome of the attempt ``delivery`` was claimed for; ``False`` if the claim
    was lost meanwhile (its lease ran out and another sender took it)."""
    values: dict[str, Any] = {"state": state, "updated_at": now, "last_error": error}
    if state == "sent":
        values["sent_at"] = now
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    # An UPDATE's result is a ``CursorResult`` (with ``rowcount``); ``execute`` is typed wider.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Delivery)
            .where(
                and_(
                    Delivery.id == delivery.id,
                    Delivery.state == "sending",
                    Delivery.attempts == delivery.attempts,
                )
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


def release(session: Session, delivery: Delivery, now: datetime, due_at: datetime) -> bool:
    """Give back a claimed delivery unsent (its destination is busy or backed off): the
    attempt it was claimed for is not counted, and it is due again at ``due_at``; ``False``
    if the claim was lost meanwhile."""
    attempts = delivery.attempts - 1
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Delivery)
            .where(
                and_(
                    Delivery.id == delivery.id,
                    Delivery.state == "sending",
                    Delivery.attempts == delivery.attempts,
                )
            )
            .values(
                state="retrying" if attempts > 0 else "pending",
                attempts=attempts,
                next_attempt_at=due_at,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


def backoff(
    attempts: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, with "equal jitter"
    (half fixed, half random) so that many failed deliveries do not come back at once."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    delay = delay / 2 + jitter() * delay / 2
    if retry_after is not None:
        delay = max(delay, min(cap, retry_after))
    return delay


def requeue(session: Session, delivery: Delivery, now: datetime) -> None:
    """Send a dead delivery again (the user fixed their receiver): a fresh set of attempts."""
    delivery.state, delivery.attempts = "pending", 0
    delivery.next_attempt_at = delivery.updated_at = now
