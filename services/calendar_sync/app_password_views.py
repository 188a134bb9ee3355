"""HTTP API of app passwords: make one for a device (shown once), list them, revoke one.

A phone or a computer signs in to the CalDAV server (``/calendar/dav/``) with the user's
e-mail and one of these; the calendar page of the web UI drives this API.
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import API_PREFIX, ApiBlueprint
from cardcrm.common.db import get_session
from cardcrm.common.schema_fields import Instant
from cardcrm.common.translate import N_
from cardcrm.sidecar.auth import current_user
from flask import current_app, request
from marshmallow import Schema, fields, validate

from .app_passwords import create_app_password, list_app_passwords, revoke_app_password

bp = ApiBlueprint("app_passwords", __name__, tag="CalDAV server", url_prefix=API_PREFIX)


class AppPasswordCreateSchema(Schema):
    name = fields.String(
        required=True,
        validate=validate.And(
            validate.Length(min=1, max=100),
            validate.Regexp(r"\S", error=N_("Give the device a name.")),
        ),
        metadata={"description": 'The device it is for ("Ana\'s iPhone").'},
    )


class AppPasswordSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    username = fields.String(
        attribute="email", metadata={"description": "The user name to sign in with."}
    )
    created_at = Instant()
    last_used_at = Instant(
        allow_none=True,
        metadata={"description": "When a device last signed in with it (to the minute)."},
    )


class AppPasswordCreatedSchema(AppPasswordSchema):
    password = fields.String(
        metadata={"description": "The password itself: shown this once, never again."}
    )
    url = fields.String(metadata={"description": "The CalDAV server's address to give the device."})


def dav_url() -> str:
    """The DAV root as the user reaches it (``PUBLIC_URL``, else the request's own)."""
    settings = current_app.extensions["calendar_sync"].settings
    base = settings.get("PUBLIC_URL") or request.url_root
    return f"{base.rstrip('/')}/dav/"


@bp.operation(
    "/app-passwords",
    "POST",
    body=AppPasswordCreateSchema,
    response=AppPasswordCreatedSchema,
    status=201,
    errors=(422,),
)
def create(body: dict[str, Any]) -> dict[str, Any]:
    """Make an app password for one device; the answer shows it this once.

    The device signs in to the CalDAV server at `url` with `username` (the caller's e-mail)
    and `password`. Dashes, spaces and capitals in the password do not matter. The account
    password is never accepted there.
    """
    user = current_user()
    now = current_app.extensions["calendar_sync"].clock()
    row, secret = create_app_password(get_session(), user, body["name"], now)
    return {
        "id": row.id,
        "name": row.name,
        "email": row.email,
        "created_at": row.created_at,
        "last_used_at": None,
        "password": secret,
        "url": dav_url(),
    }


@bp.operation("/app-passwords", response=AppPasswordSchema, paginated=True)
def app_passwords() -> Any:
    """The caller's working app passwords, newest first, with when each was last used; the
    passwords themselves are never shown again."""
    return list_app_passwords(get_session(), current_user()["id"])


@bp.operation("/app-passwords/<int:password_id>", "DELETE", status=204, errors=(404,))
def revoke(password_id: int) -> None:
    """Revoke an app password: the device using it is refused from its next request on."""
    now = current_app.extensions["calendar_sync"].clock()
    revoke_app_password(get_session(), current_user()["id"], password_id, now)
