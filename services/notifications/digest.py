"""The daily digest: each user's Today view at the local time they chose, once per local date.

``next_digest_at`` in the preferences says when the next digest is due. When it comes, the
user's time zone is read again from core (it may have changed), the Today view is read acting
for the user, and a notification keyed by the local date is recorded: the unique key makes it
exactly one per user and local date, however often the step runs. A digest missed entirely
(the service down through the user's day) is not sent late the next day.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cardcrm.common.timeutil import isoformat_z
from cardcrm.sidecar.core_client import CoreClient, CoreError, CoreUnavailable
from sqlalchemy import select

from .deliveries.service import notify
from .preferences.models import Preferences
from .recipients import Recipients

if TYPE_CHECKING:
    from .context import NotificationsContext

log = logging.getLogger(__name__)


def local_time(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def at_local(day: date, at: str, timezone: str) -> datetime:
    """The instant (UTC) of ``at`` on ``day`` in ``timezone``; in a DST gap, just after it."""
    return datetime.combine(day, local_time(at), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def next_digest_at(after: datetime, at: str, timezone: str) -> datetime:
    """The first instant strictly after ``after`` at local time ``at`` in ``timezone``."""
    day = after.astimezone(ZoneInfo(timezone)).date()
    candidate = at_local(day, at, timezone)
    if candidate <= after:
        candidate = at_local(day + timedelta(days=1), at, timezone)
    return candidate


def send_due_digests(
    context: NotificationsContext, client: CoreClient, now: datetime, limit: int = 50
) -> int:
    """Record the digests whose time has come; how many were recorded."""
    with context.db.sessions() as session:
        due = list(
            session.execute(
                select(Preferences.user_id, Preferences.next_digest_at, Preferences.daily_digest_at)
                .where(Preferences.next_digest_at <= now, Preferences.daily_digest_at.is_not(None))
                .order_by(Preferences.next_digest_at, Preferences.user_id)
                .limit(limit)
            )
        )
    recorded = 0
    for user_id, planned, at in due:
        assert planned is not None and at is not None  # as the query asks
        try:
            recorded += _digest(context, client, user_id, planned, at, now)
        except CoreUnavailable as error:
            log.warning("digests wait for core: %s", error)
            break
    return recorded


def _digest(
    context: NotificationsContext,
    client: CoreClient,
    user_id: int,
    planned: datetime,
    at: str,
    now: datetime,
) -> int:
    try:
        user = client.user(user_id, fresh=True)
    except CoreUnavailable:
        raise
    except CoreError as error:
        log.error("digest of user %s: core refused to say who they are: %s", user_id, error)
        user = None
    timezone = (user or {}).get("timezone") or "UTC"
    day = now.astimezone(ZoneInfo(timezone)).date()
    today = None
    if user is not None and now >= at_local(day, at, timezone):
        try:
            today = client.today(user_id, day)
        except CoreUnavailable:
            raise
        except CoreError as error:
            log.error("digest of user %s for %s failed: %s", user_id, day, error)
    with context.db.writer.begin() as session:
        row = session.get(Preferences, user_id)
        if row is None or row.next_digest_at != planned or row.daily_digest_at != at:
            return 0  # changed meanwhile
        if user is None:
            # Core does not know the user (or refuses the service token): not today.
            row.next_digest_at = next_digest_at(now, at, row.timezone)
            return 0
        row.timezone = timezone
        if now < at_local(day, at, timezone):
            # The time zone changed since this was planned: today's time is still ahead.
            row.next_digest_at = at_local(day, at, timezone)
            return 0
        row.next_digest_at = next_digest_at(at_local(day, at, timezone), at, timezone)
        if today is None:
            return 0
        recorded = 0
        for preferences in Recipients(context.box, client).decide(
            session, "daily_digest", [user_id]
        ):
            event = {
                "id": f"digest-{user_id}-{day.isoformat()}",
                "type": "today.digest",
                "at": isoformat_z(now),
                "actor_id": None,
                "data": today,
                "rule": "daily_digest",
            }
            created = notify(
                session,
                context.channels,
                preferences,
                rule="daily_digest",
                key=f"digest:{day.isoformat()}",
                type="today.digest",
                at=now,
                payload=event,
                now=now,
            )
            recorded += created is not None
        return recorded
