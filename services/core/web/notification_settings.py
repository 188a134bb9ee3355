"""The notification settings page: where a user chooses what they are told about and where.

The preferences live in the notifications sidecar (``/notifications/api/v1/preferences``);
like the calendar page, this page is a shell the browser fills in and saves through that
API with the tab's bearer token (``POST /session/api-token``). It exists only when the
notifications sidecar is mounted beside core (``SIDECARS``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_babel import ngettext

from .display import configured_sidecars, user_zone
from .security import current_user

bp = Blueprint("notification_settings", __name__)

#: Where ``cardcrm up`` (and the nginx example) mount the notifications service.
NOTIFICATIONS_BASE = "/notifications"
#: The reminder lead times offered in the list (minutes); the API takes any up to a week.
REMINDER_MINUTES = (5, 15, 30, 60, 120, 24 * 60, 2 * 24 * 60)


def reminder_label(minutes: int) -> str:
    """A lead time in words of the request's language: 5 minutes, 1 hour, 2 days."""
    if minutes % (24 * 60) == 0:
        return ngettext("%(num)d day", "%(num)d days", minutes // (24 * 60))
    if minutes % 60 == 0:
        return ngettext("%(num)d hour", "%(num)d hours", minutes // 60)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


@bp.get("/settings/notifications")
def settings_page() -> Any:
    if "notifications" not in configured_sidecars():
        abort(404, _("Notifications are not installed on this server."))
    return render_template(
        "notifications/settings.html",
        base=NOTIFICATIONS_BASE,
        account_email=current_user().email,
        timezone=str(user_zone()),
        reminder_choices=[(minutes, reminder_label(minutes)) for minutes in REMINDER_MINUTES],
    )
