"""Request and response schemas of the calendar sync API."""

from __future__ import annotations

from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, fields, validate


class FeedCreatedSchema(Schema):
    url = fields.String(metadata={"description": "The secret feed URL (events)."})
    todos_url = fields.String(metadata={"description": "The same feed as to-dos."})
    created_at = Instant()


class FeedStatusSchema(Schema):
    active = fields.Boolean(metadata={"description": "Whether a feed URL works now."})
    created_at = Instant(allow_none=True)
    url = fields.String(
        allow_none=True,
        metadata={
            "description": "The working feed URL (events); null when none, or when it"
            " was made before cardcrm kept it (make a new one)."
        },
    )
    todos_url = fields.String(allow_none=True, metadata={"description": "The same, as to-dos."})


class FeedArgsSchema(Schema):
    format = fields.String(
        load_default="events",
        validate=validate.OneOf(("events", "todos")),
        metadata={"description": "`events` (VEVENT, the default) or `todos` (VTODO)."},
    )


class AccountCreateSchema(Schema):
    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=1000),
        metadata={"description": "The CalDAV server (its principal or calendar URL)."},
    )
    username = fields.String(required=True, validate=validate.Length(min=1, max=255))
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=1024),
        metadata={"description": "An app password; stored encrypted, never shown again."},
    )
    calendar = fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "The calendar's name; found or made (default `cardcrm`)."},
    )


class AccountSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    username = fields.String()
    calendar = fields.String(attribute="calendar_name")
    calendar_url = fields.String()
    created_at = Instant()
    last_sync_at = Instant(allow_none=True)
    last_error = fields.String(allow_none=True)
    pending = fields.Integer(metadata={"description": "Changes not yet pushed to the server."})
