"""Who is calling a sidecar: core says who owns the bearer token (``GET /api/v1/me``).

Both sidecars install ``authenticate`` as their ``ApiService.authenticate``; views read the
caller with ``current_user()``. The core client is the app's ``cardcrm_core_client``
extension (it caches answers briefly).
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.errors import CoreUnreachable, Unauthorized
from cardcrm.common.translate import gettext as _
from flask import current_app, g, request

from .core_client import CoreClient, CoreError


def authenticate(level: str) -> dict[str, Any]:
    """The user owning the request's bearer token: ``{"id", "email", "name", "timezone",
    "is_admin"}``. Sidecars know one level, ``"user"``: a user's token."""
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(_("Send a user's token as 'Authorization: Bearer <token>'."))
    client: CoreClient = current_app.extensions["cardcrm_core_client"]
    try:
        user = client.whoami(token.strip())
    except CoreError as error:
        raise CoreUnreachable(
            _("cardcrm's core service, which checks tokens, cannot be reached; try again soon.")
        ) from error
    if user is None:
        raise Unauthorized(_("The token is unknown, revoked, or not a user's token."))
    g.sidecar_user = user
    return user


def current_user() -> dict[str, Any]:
    """The caller of an operation declared with ``auth="user"``."""
    user: dict[str, Any] = g.sidecar_user
    return user


def caller_name(user: dict[str, Any]) -> str:
    """Whose idempotency keys these are (as core names a user's)."""
    return f"user:{user['id']}"
