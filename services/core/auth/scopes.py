"""What a service token may do: its scopes, each granting a few named operations.

A service token (``cardcrm token create --service NAME``) is no user: it reads the event feed
and, sending ``X-Cardcrm-On-Behalf-Of``, acts for a user only where an operation declares a
scope (``ApiBlueprint.operation(scope=...)``, shown in the OpenAPI document as
``x-service-scope``) and the token carries it. Everything else, and every admin-only
operation whoever the user, answers 403 to a service token: a leaked sidecar token reads and
nudges tasks, and adds tasks, cards and notes as a user (what a calendar app's writes become
through the calendar service's CalDAV server); it reads no card, deletes nothing and does not
run the CRM. The default scopes are exactly what the sidecars
(calendar sync, notifications) call; ``cardcrm up`` and existing service tokens get them. The
mail receiver's token carries ``mail:deliver`` only (``cardcrm token create --service mail
--scope mail:deliver``): it may file mail on cards and do nothing else.
"""

from __future__ import annotations

#: Every scope and what it allows (shown by ``cardcrm token create --help``).
SCOPES: dict[str, str] = {
    "events:read": "read the event feed",
    "users:read": "read a user's profile (GET /me, acting for the user)",
    "products:read": "read the products a user sees (acting for the user)",
    "tasks:read": "read a task (acting for a user)",
    "tasks:write": "add a task to a card, close, reopen, postpone and edit one (acting for a user)",
    "cards:create": "make a card (acting for a user: the calendar's inbox card)",
    "notes:write": "write and edit a note on a card (acting for a user: a calendar app's note)",
    "tasks:sync-conflicts": "record a sync conflict in a task's history",
    "today:read": "read a user's Today view (acting for the user)",
    "mail:deliver": "the mail receiver: ask whether an address is a card's, file a message on it",
}

#: Scopes no sidecar needs, given only when asked for (``--scope``).
SEPARATE_SCOPES: tuple[str, ...] = ("mail:deliver",)

#: What the calendar sync and notifications sidecars need: a new service token's default.
SIDECAR_SCOPES: tuple[str, ...] = tuple(scope for scope in SCOPES if scope not in SEPARATE_SCOPES)


def unknown_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    return [scope for scope in scopes if scope not in SCOPES]
