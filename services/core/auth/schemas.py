"""Request and response schemas of users and tokens."""

from __future__ import annotations

from cardcrm.common.schema_fields import Instant
from cardcrm.common.timeutil import is_timezone
from cardcrm.common.translate import gettext as _
from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema


class TimezoneField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if not is_timezone(value):
            raise ValidationError(
                _(
                    "Unknown time zone %(zone)s; use an IANA name such as Europe/Bucharest.",
                    zone=repr(value),
                )
            )
        return value


class LanguageField(fields.String):
    """A language the installation has a catalogue for (``en``, ``ro``...); null: the browser's."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip().lower()
        known = current_app.config.get("LANGUAGES") or ["en"]
        if value not in known:
            raise ValidationError(
                _(
                    "Unknown language %(language)s; one of: %(known)s.",
                    language=repr(value),
                    known=", ".join(known),
                )
            )
        return value


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    timezone = fields.String()
    language = fields.String(
        allow_none=True,
        metadata={"description": "The UI's and e-mails' language; null: the browser's choice."},
    )
    is_admin = fields.Boolean()


class UserCreateSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=8, max=200)
    )
    timezone = TimezoneField(load_default="UTC")
    language = LanguageField(allow_none=True, load_default=None)
    is_admin = fields.Boolean(load_default=False)


class MeUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    timezone = TimezoneField()
    language = LanguageField(allow_none=True)
    password = fields.String(
        load_only=True,
        validate=validate.Length(min=8, max=200),
        metadata={"description": "A new password; needs `current_password`."},
    )
    current_password = fields.String(load_only=True, validate=validate.Length(max=200))
    revoke_tokens = fields.Boolean(
        load_only=True,
        metadata={"description": "With a new password: also revoke the user's API tokens."},
    )

    @validates_schema
    def _password_change(self, data: dict, **kwargs: object) -> None:
        if "password" in data and not data.get("current_password"):
            raise ValidationError(
                _("Enter your current password to change it."), "current_password"
            )
        if data.get("revoke_tokens") and "password" not in data:
            raise ValidationError(
                _("Tokens are revoked with a new password only."), "revoke_tokens"
            )


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))
    name = fields.String(
        validate=validate.Length(max=200), metadata={"description": "A label for the token."}
    )

    @validates("email")
    def _email(self, value: str, **kwargs: object) -> None:
        if "@" not in value:
            raise ValidationError(_("Not a valid e-mail address."))


class TokenSchema(Schema):
    id = fields.Integer()
    name = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    created_at = Instant()
    revoked_at = Instant(allow_none=True)
    expires_at = Instant(allow_none=True)
    session_id = fields.Integer(
        attribute="web_session_id",
        allow_none=True,
        metadata={"description": "The web session a browser's token belongs to and ends with."},
    )


#: The longest a token may be made to live (ten years); without an expiry it lives until revoked.
MAX_TOKEN_DAYS = 3650


class TokenCreateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    expires_in_days = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=MAX_TOKEN_DAYS),
        metadata={"description": "Days until the token stops working; none: until revoked."},
    )


class TokenCreatedSchema(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "Shown once, never stored."})
    expires_at = Instant(allow_none=True)


class WebSessionSchema(Schema):
    id = fields.Integer()
    created_at = Instant()
    last_seen_at = Instant()
    expires_at = Instant()
    user_agent = fields.String()
    device = fields.String(metadata={"description": 'The user agent in words: "Firefox on Linux".'})
    address = fields.String()
    current = fields.Boolean(
        metadata={"description": "The session the request came from (its browser token)."}
    )


class LoginResultSchema(Schema):
    token = fields.String()
    user = fields.Nested(UserSchema)
