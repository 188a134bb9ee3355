"""HTTP API of preferences and of the channels they choose from."""

from __future__ import annotations

import dataclasses
from typing import Any

from cardcrm.common.api import ApiBlueprint, Page
from cardcrm.common.db import get_session
from cardcrm.sidecar.auth import current_user
from flask import current_app, request

from ..context import NotificationsContext
from .effective import UserPreferences
from .lookup import preferences_for
from .schemas import ChannelSchema, PreferencesSchema, PreferencesUpdateSchema
from .service import save_preferences
from .verification import Verifier, address_state

bp = ApiBlueprint("preferences", __name__, tag="Preferences")


def _context() -> NotificationsContext:
    return current_app.extensions["cardcrm_notifications"]


def _verifier() -> Verifier:
    return Verifier.from_context(_context(), request.url_root)


def _view(preferences: UserPreferences) -> dict[str, Any]:
    user = current_user()
    data = dataclasses.asdict(preferences)
    if not preferences.saved:
        data["timezone"] = user.get("timezone") or "UTC"
    data.update(address_state(get_session(), preferences, user.get("email")))
    return data


@bp.operation("/preferences", response=PreferencesSchema, errors=(401,))
def get_preferences() -> Any:
    """The caller's notification preferences (the defaults until they save some)."""
    context = _context()
    return _view(preferences_for(get_session(), current_user()["id"], context.box))


@bp.operation(
    "/preferences",
    "PUT",
    body=PreferencesUpdateSchema,
    response=PreferencesSchema,
    errors=(401, 429),
)
def put_preferences(body: dict[str, Any]) -> Any:
    """Replace the caller's preferences; omitted fields take their defaults.

    ``webhook_secret`` is kept when omitted; when a webhook URL has no secret one is made up
    (read it back here); ``null`` makes a new one. ``daily_digest_at`` is a local time in the
    caller's time zone (as core has it). An ``email`` other than the account's own is kept
    unverified and sent a confirmation link; until it is confirmed, notification e-mails go
    to the account's own address (``email_in_effect``). 429 (changing nothing) when such a
    message went out less than a minute ago.
    """
    return _save(body, replace=True)


@bp.operation(
    "/preferences",
    "PATCH",
    body=PreferencesUpdateSchema,
    response=PreferencesSchema,
    errors=(401, 429),
)
def patch_preferences(body: dict[str, Any]) -> Any:
    """Change only the preferences named in the body."""
    return _save(body, replace=False)


def _save(body: dict[str, Any], replace: bool) -> Any:
    context = _context()
    saved = save_preferences(
        get_session(),
        current_user(),
        body,
        replace=replace,
        box=context.box,
        channels=context.channels,
        outbound=context.outbound,
        now=context.clock(),
        verifier=_verifier(),
    )
    return _view(saved)


@bp.operation(
    "/preferences/email/resend",
    "POST",
    response=PreferencesSchema,
    errors=(401, 409, 422, 429, 503),
)
def resend_email_verification() -> Any:
    """Send the confirmation link of the caller's unverified e-mail address again.

    A new link (earlier ones keep working until they expire). 409 when the address needs no
    confirmation or this server cannot send e-mail; 429 with `Retry-After` within a minute of
    the last message; 422 when the mail server refuses the address; 503 when it cannot be
    reached.
    """
    context = _context()
    session = get_session()
    _verifier().resend(session, current_user(), context.clock())
    return _view(preferences_for(session, current_user()["id"], context.box))


@bp.operation("/channels", response=ChannelSchema, paginated=True, errors=(401,))
def list_channels() -> Page:
    """The channels this server offers, and whether each can be used (e-mail needs SMTP)."""
    items = []
    for channel in _context().channels.values():
        reason = channel.unavailable()
        items.append(
            {
                "name": channel.name,
                "label": channel.label or channel.name,
                "available": reason is None,
                "reason": reason,
            }
        )
    return Page(items)
