"""Rules about preferences: the defaults, validation against the channels, and saving."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Invalid
from cardcrm.common.timeutil import utcnow
from sqlalchemy.orm import Session

from ..secretbox import SecretBox
from .models import Preferences

#: What a user who never saved preferences gets: the in-app inbox for both event rules.
DEFAULTS: dict[str, Any] = {
    "email": None,
    "webhook_url": None,
    "assigned": True,
    "due_reminder_minutes": None,
    "daily_digest_at": None,
    "status_changes": True,
    "channels": {},
}

#: Where ``preferences_for`` and ``preferences_row`` keep what they read, in ``session.info``.
CACHE_KEY = "notifications_preferences"
ROWS_KEY = "notifications_preferences_rows"


@dataclass(frozen=True)
class UserPreferences:
    """A user's preferences in effect (the defaults when they saved none), secret in clear."""

    user_id: int
    email: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    assigned: bool = True
    due_reminder_minutes: int | None = None
    daily_digest_at: str | None = None
    status_changes: bool = True
    channels: dict[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"
    next_digest_at: datetime | None = None
    #: whether the user saved preferences (else these are the defaults)
    saved: bool = False

    def wants(self, rule: str) -> bool:
        """Whether the user switched ``rule`` on."""
        if rule == "assigned":
            return self.assigned
        if rule == "status_changed":
            return self.status_changes
        if rule == "due_reminder":
            return self.due_reminder_minutes is not None
        if rule == "daily_digest":
            return self.daily_digest_at is not None
        return True  # rules without a switch (a test message the user asked for)


def preferences_for(session: Session, user_id: int, box: SecretBox) -> UserPreferences:
    """The user's preferences in effect, read once per session (a worker's transaction)."""
    cache = session.info.setdefault(CACHE_KEY, {})
    if user_id not in cache:
        cache[user_id] = _effective(preferences_row(session, user_id), user_id, box)
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


def _effective(row: Preferences | None, user_id: int, box: SecretBox) -> UserPreferences:
    if row is None:
        return UserPreferences(user_id=user_id)
    return UserPreferences(
        user_id=row.user_id,
        email=row.email,
        webhook_url=row.webhook_url,
        webhook_secret=box.open(row.webhook_secret),
        assigned=row.assigned,
        due_reminder_minutes=row.due_reminder_minutes,
        daily_digest_at=row.daily_digest_at,
        status_changes=row.status_changes,
        channels=dict(row.channels or {}),
        timezone=row.timezone,
        next_digest_at=row.next_digest_at,
        saved=True,
    )


def save_preferences(
    session: Session,
    user: dict[str, Any],
    changes: dict[str, Any],
    *,
    replace: bool,
    box: SecretBox,
    channels: dict[str, Any],
    now: datetime | None = None,
) -> UserPreferences:
    """Save ``changes`` to the preferences of ``user`` (core's ``/me``); ``replace`` for PUT."""
    from ..digest import next_digest_at
    from ..reminders.service import reschedule_user

    now = now or utcnow()
    session.info.pop(CACHE_KEY, None)
    session.info.pop(ROWS_KEY, None)
    if "channels" in changes:
        changes["channels"] = _clean_channel_settings(changes["channels"], channels)
    with write_transaction(session):
        row = session.get(Preferences, user["id"])
        created = row is None
        if row is None:
            row = Preferences(user_id=user["id"], **DEFAULTS, created_at=now)
            session.add(row)
        values = {**DEFAULTS, **changes} if replace else changes
        old_minutes = row.due_reminder_minutes
        for key, value in values.items():
            if key != "webhook_secret":
                setattr(row, key, value)
        if "webhook_secret" in changes:
            # A new secret replaces the old one; ``null`` asks for a new one to be made up.
            given = changes["webhook_secret"]
            row.webhook_secret = box.seal(given) if given else None
        if not row.webhook_url:
            row.webhook_secret = None
        elif box.open(row.webhook_secret) is None:
            # A webhook is always signed: make up a secret the user reads back once set.
            row.webhook_secret = box.seal(secrets.token_urlsafe(32))
        row.timezone = user.get("timezone") or row.timezone or "UTC"
        row.next_digest_at = (
            next_digest_at(now, row.daily_digest_at, row.timezone) if row.daily_digest_at else None
        )
        row.updated_at = now
        session.flush()
        if created or row.due_reminder_minutes != old_minutes:
            reschedule_user(session, row.user_id, row.due_reminder_minutes, now)
    return _effective(row, row.user_id, box)


def _clean_channel_settings(given: dict[str, Any], channels: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for name, settings in given.items():
        channel = channels.get(name)
        if channel is None:
            errors[f"channels.{name}"] = [f"No channel {name!r}; see GET /api/v1/channels."]
            continue
        try:
            cleaned[name] = channel.validate_settings(settings)
        except ValueError as error:
            errors[f"channels.{name}"] = [str(error)]
    if errors:
        raise Invalid(errors)
    return cleaned
