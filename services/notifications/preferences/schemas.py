"""Request and response schemas of preferences."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, ValidationError, fields, validate

MAX_REMINDER_MINUTES = 7 * 24 * 60
DIGEST_TIME = validate.Regexp(
    r"^([01]\d|2[0-3]):[0-5]\d$", error="A local time as HH:MM, from 00:00 to 23:59."
)


class StrictBoolean(fields.Boolean):
    """Only JSON ``true`` or ``false``: ``"yes"`` or ``1`` are mistakes worth a 422."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Use an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise ValidationError("Put no user name or password in the URL; use the secret.")


class PreferencesUpdateSchema(Schema):
    """``PUT`` replaces (an omitted field takes its default); ``PATCH`` changes what it names.

    ``webhook_secret`` is kept when omitted, and made up when a webhook URL has none.
    """

    email = fields.Email(allow_none=True, validate=validate.Length(max=320))
    webhook_url = fields.String(
        allow_none=True, validate=[validate.Length(min=1, max=2000), http_url]
    )
    webhook_secret = fields.String(
        allow_none=True,
        validate=validate.Length(min=16, max=200),
        metadata={"description": "The key of the HMAC-SHA256 signature (16 to 200 characters)."},
    )
    assigned = StrictBoolean()
    due_reminder_minutes = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=MAX_REMINDER_MINUTES)
    )
    daily_digest_at = fields.String(allow_none=True, validate=DIGEST_TIME)
    status_changes = StrictBoolean()
    mentioned = StrictBoolean(
        metadata={"description": "Tell me when someone mentions me in a note (default true)."}
    )
    channels = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.Dict(),
        metadata={"description": "Settings of channels that plugins add, by channel name."},
    )


class PreferencesSchema(Schema):
    email = fields.String(allow_none=True)
    webhook_url = fields.String(allow_none=True)
    webhook_secret = fields.String(allow_none=True)
    assigned = fields.Boolean()
    due_reminder_minutes = fields.Integer(allow_none=True)
    daily_digest_at = fields.String(allow_none=True)
    status_changes = fields.Boolean()
    mentioned = fields.Boolean(
        metadata={"description": "Whether mentions in notes notify the user (`mentioned`)."}
    )
    channels = fields.Dict()
    timezone = fields.String(metadata={"description": "The user's time zone, as core has it."})
    next_digest_at = Instant(allow_none=True)
    email_verified = fields.Boolean(
        metadata={
            "description": "Whether `email` is proven the user's: the account's own address, "
            "or confirmed through the link sent to it."
        }
    )
    email_in_effect = fields.String(
        allow_none=True,
        metadata={
            "description": "Where notification e-mails go now: `email` once verified, the "
            "account's own address until then; null without an `email`."
        },
    )
    email_verification_sent_at = Instant(
        allow_none=True,
        metadata={"description": "When the last confirmation link for `email` went out."},
    )
    email_verification_error = fields.String(
        allow_none=True,
        metadata={"description": "Why the last confirmation message could not be sent."},
    )


class ChannelSchema(Schema):
    name = fields.String()
    label = fields.String()
    available = fields.Boolean()
    reason = fields.String(allow_none=True, metadata={"description": "Why it is unavailable."})


def dump_errors(errors: dict[str, Any]) -> dict[str, list[str]]:
    return {
        key: value if isinstance(value, list) else [str(value)] for key, value in errors.items()
    }
