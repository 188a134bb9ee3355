"""Request and response schemas of contacts."""

from __future__ import annotations

from cardcrm.common.pagination import PageArgsSchema
from cardcrm.common.schema_fields import Instant
from cardcrm.common.translate import N_
from cardcrm.common.translate import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..cards.fields import PHONE
from .models import KINDS

NAME = validate.Length(min=1, max=300)
EMAILS = fields.List(
    fields.Email(validate=validate.Length(max=320)), validate=validate.Length(max=20)
)
PHONES = fields.List(
    fields.String(validate=validate.Regexp(PHONE, error=N_("Not a valid phone number."))),
    validate=validate.Length(max=20),
)


class _ContactFields(Schema):
    name = fields.String(validate=NAME)
    emails = EMAILS
    phones = PHONES
    company_id = fields.Integer(allow_none=True)
    position = fields.String(allow_none=True, validate=validate.Length(max=200))
    notes = fields.String(allow_none=True, validate=validate.Length(max=20_000))
    registration_number = fields.String(allow_none=True, validate=validate.Length(max=100))
    address = fields.String(allow_none=True, validate=validate.Length(max=2000))
    website = fields.Url(allow_none=True, schemes={"http", "https"})
    fields_ = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=63)),
        data_key="fields",
        attribute="fields",
    )


class ContactCreateSchema(_ContactFields):
    kind = fields.String(load_default="person", validate=validate.OneOf(KINDS))
    name = fields.String(required=True, validate=NAME)

    @validates_schema
    def _kind_fields(self, data: dict, **kwargs: object) -> None:
        _check_kind(data.get("kind", "person"), data)


class ContactUpdateSchema(_ContactFields):
    pass


def _check_kind(kind: str, data: dict) -> None:
    if kind == "company":
        for key in ("company_id", "position"):
            if data.get(key) is not None:
                raise ValidationError(_("Only people have this."), key)


class ContactSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    emails = fields.List(fields.String())
    phones = fields.List(fields.String())
    company_id = fields.Integer(allow_none=True)
    position = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    registration_number = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields")
    created_at = Instant()
    updated_at = Instant()
    version = fields.Integer()


class ContactListArgsSchema(PageArgsSchema):
    q = fields.String(validate=validate.Length(min=1, max=200))
    kind = fields.String(validate=validate.OneOf(KINDS))


class ContactCreateArgsSchema(Schema):
    allow_duplicate = fields.Boolean(load_default=False)


class ContactDeleteArgsSchema(Schema):
    force = fields.Boolean(load_default=False)


class MergeSchema(Schema):
    other_id = fields.Integer(required=True)


class ContactHistorySchema(Schema):
    id = fields.Integer()
    type = fields.String()
    at = Instant()
    user_id = fields.Integer(allow_none=True)
    data = fields.Dict()
