"""Saving preferences: the defaults, validation against the channels, and what a change
sets off (the next digest's time, the user's reminders moved). Reading them is ``lookup``.

An e-mail address other than the account's own is saved unverified and sent its confirmation
message once saved (``verification.Verifier``); when such a message went out too recently the
save is a 429 that changes nothing."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Invalid
from cardcrm.common.outbound import OutboundPolicy
from cardcrm.common.timeutil import utcnow
from sqlalchemy.orm import Session

from ..channels.base import Channel
from ..digest import next_digest_at
from ..reminders.service import reschedule_user
from ..secretbox import SecretBox
from .effective import UserPreferences
from .lookup import forget, in_effect
from .models import Preferences
from .verification import Verifier

#: What a user who never saved preferences gets: the in-app inbox for the event rules.
DEFAULTS: dict[str, Any] = {
    "email": None,
    "webhook_url": None,
    "assigned": True,
    "due_reminder_minutes": None,
    "daily_digest_at": None,
    "status_changes": True,
    "mentioned": True,
    "channels": {},
}


def save_preferences(
    session: Session,
    user: dict[str, Any],
    changes: dict[str, Any],
    *,
    replace: bool,
    box: SecretBox,
    channels: dict[str, Channel],
    outbound: OutboundPolicy,
    now: datetime | None = None,
    verifier: Verifier,
) -> UserPreferences:
    """Save ``changes`` to the preferences of ``user`` (core's ``/me``); ``replace`` for PUT.

    A webhook URL goes through the outbound guard: one the service may not connect to (a
    private address, unless the operator allows it) is refused here, with a 422 that says why,
    rather than failing every delivery later.
    """
    now = now or utcnow()
    forget(session)
    if changes.get("webhook_url"):
        outbound.validate_url(changes["webhook_url"], "webhook_url")
    if "channels" in changes:
        changes["channels"] = _clean_channel_settings(changes["channels"], channels)
    with write_transaction(session):
        row = session.get(Preferences, user["id"], with_for_update=True)
        created = row is None
        if row is None:
            row = Preferences(user_id=user["id"], **DEFAULTS, created_at=now)
            session.add(row)
        values = {**DEFAULTS, **changes} if replace else changes
        old_minutes, old_email = row.due_reminder_minutes, row.email
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
        outgoing = verifier.address_saved(session, row, old_email, user, now)
        if created or row.due_reminder_minutes != old_minutes:
            reschedule_user(session, row.user_id, row.due_reminder_minutes, now)
    if outgoing is not None:
        verifier.send(session, outgoing, user, now)
    return in_effect(row, row.user_id, box)


def _clean_channel_settings(given: dict[str, Any], channels: dict[str, Channel]) -> dict[str, Any]:
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
