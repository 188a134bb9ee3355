"""Reading a user's preferences, once per session: what rules, reminders and senders ask.

Apart from ``service`` (which saves them) so that the readers (recipients, reminders, the
dispatcher) do not depend on what saving a preference sets off (digests, reminders).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..secretbox import SecretBox
from .effective import UserPreferences
from .models import Preferences

#: Where ``preferences_for`` and ``preferences_row`` keep what they read, in ``session.info``.
CACHE_KEY = "notifications_preferences"
ROWS_KEY = "notifications_preferences_rows"


def preferences_for(session: Session, user_id: int, box: SecretBox) -> UserPreferences:
    """The user's preferences in effect, read once per session (a worker's transaction)."""
    cache = session.info.setdefault(CACHE_KEY, {})
    if user_id not in cache:
        cache[user_id] = in_effect(preferences_row(session, user_id), user_id, box)
    return cache[user_id]


def preferences_row(session: Session, user_id: int) -> Preferences | None:
    """The user's saved preferences, read once per session.

    Kept in ``session.info``: the session's identity map holds rows weakly, so a row nobody
    holds would be read again for every event of a batch.
    """
    rows = session.info.setdefault(ROWS_KEY, {})
    if user_id not in rows:
        rows[user_id] = session.get(Preferences, user_id)
    return rows[user_id]


def forget(session: Session) -> None:
    """Drop what this session read: the preferences are about to change."""
    session.info.pop(CACHE_KEY, None)
    session.info.pop(ROWS_KEY, None)


def in_effect(row: Preferences | None, user_id: int, box: SecretBox) -> UserPreferences:
    """The preferences ``row`` stands for (the defaults without one), its secret opened."""
    if row is None:
        return UserPreferences(user_id=user_id)
    return UserPreferences(
        user_id=row.user_id,
        email=row.email,
        email_verified=row.email is not None and row.email_verified_at is not None,
        webhook_url=row.webhook_url,
        webhook_secret=box.open(row.webhook_secret),
        assigned=row.assigned,
        due_reminder_minutes=row.due_reminder_minutes,
        daily_digest_at=row.daily_digest_at,
        status_changes=row.status_changes,
        mentioned=row.mentioned,
        channels=dict(row.channels or {}),
        timezone=row.timezone,
        next_digest_at=row.next_digest_at,
        saved=True,
    )
