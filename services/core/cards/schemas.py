"""Request and response schemas of cards and their history."""

from __future__ import annotations

from typing import Any

from cardcrm.common.pagination import PageArgsSchema
from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, fields, validate

from ..mail.address import card_address
from ..products.models import GROUPS
from .models import Card
from .sorting import SORT_DOC, SORT_ERROR, SORT_PATTERN

TITLE = validate.Length(min=1, max=500)


CONTACT_IDS = fields.List(fields.Integer(), validate=validate.Length(max=100))


class CardCreateSchema(Schema):
    title = fields.String(required=True, validate=TITLE)
    status_id = fields.Integer()
    owner_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True, metadata={"description": "The primary contact."})
    contact_ids = CONTACT_IDS
    fields_ = fields.Dict(
        keys=fields.String(),
        data_key="fields",
        attribute="fields",
        metadata={"description": "Values of the product's custom fields, by key."},
    )


class CardUpdateSchema(Schema):
    title = fields.String(validate=TITLE)
    status_id = fields.Integer()
    owner_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    contact_ids = fields.List(
        fields.Integer(),
        validate=validate.Length(max=100),
        metadata={"description": "Replaces the card's other contacts."},
    )
    fields_ = fields.Dict(
        keys=fields.String(),
        data_key="fields",
        attribute="fields",
        metadata={"description": "Keys to change; null clears a value; other keys are kept."},
    )


class CardSchema(Schema):
    id = fields.Integer()
    product_id = fields.Integer()
    status_id = fields.Integer()
    status_group = fields.String()
    title = fields.String()
    owner_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    contact_ids = fields.List(fields.Integer())
    email_address = fields.Function(
        card_address,
        metadata={"description": "Mail sent here is filed on the card (docs/mail.md)."},
    )
    fields_ = fields.Dict(data_key="fields", attribute="fields")
    next_task_due = Instant(allow_none=True)
    closed = fields.Boolean()
    trashed = fields.Boolean()
    created_at = Instant()
    updated_at = Instant()
    version = fields.Integer()


class CardListArgsSchema(PageArgsSchema):
    #: What a query string loads to depends on it alone (``api.QueryLoadsKept``).
    KEEP_LOADS = True

    status_id = fields.Integer()
    group = fields.String(validate=validate.OneOf(GROUPS))
    owner_id = fields.Integer()
    q = fields.String(validate=validate.Length(min=1, max=200))
    closed = fields.Boolean()
    trashed = fields.Boolean(load_default=False)
    sort = fields.String(
        validate=validate.Regexp(SORT_PATTERN, error=SORT_ERROR),
        metadata={"description": SORT_DOC},
    )


class CardDeleteArgsSchema(Schema):
    purge = fields.Boolean(load_default=False)


class HistorySchema(Schema):
    id = fields.Integer()
    type = fields.String()
    at = Instant()
    user_id = fields.Integer(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    data = fields.Dict()


class HistoryArgsSchema(PageArgsSchema):
    type = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        metadata={
            "description": "Kinds to keep: an exact type (task.postponed) or a prefix (task)."
        },
    )


def card_data(card: Card) -> dict[str, Any]:
    """The card as the API shows it (in history rows and events too)."""
    return CardSchema().dump(card)
