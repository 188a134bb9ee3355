"""Request and response schemas of users and tokens."""

from __future__ import annotations

from cardcrm.common.schema_fields import Instant
from cardcrm.common.timeutil import is_timezone
from marshmallow import Schema, ValidationError, fields, validate, validates


class TimezoneField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if not is_timezone(value):
            raise ValidationError(
                f"Unknown time zone {value!r}; use an IANA name such as Europe/Bucharest."
            )
        return value


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    timezone = fields.String()
    is_admin = fields.Boolean()


class UserCreateSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=8, max=200)
    )
    timezone = TimezoneField(load_default="UTC")
    is_admin = fields.Boolean(load_default=False)


class MeUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    timezone = TimezoneField()
    password = fields.String(load_only=True, validate=validate.Length(min=8, max=200))


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))
    name = fields.String(
        validate=validate.Length(max=200), metadata={"description": "A label for the token."}
    )

    @validates("email")
    def _email(self, value: str, **_: object) -> None:
        if "@" not in value:
            raise ValidationError("Not a valid e-mail address.")


class TokenSchema(Schema):
    id = fields.Integer()
    name = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    created_at = Instant()
    revoked_at = Instant(allow_none=True)


class LoginResultSchema(Schema):
    token = fields.String()
    user = fields.Nested(UserSchema)
