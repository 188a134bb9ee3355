"""Request and response schemas of card e-mails and of the mail receiver's calls."""

from __future__ import annotations

from typing import Any

from cardcrm.common.pagination import PageArgsSchema
from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from ..cards.models import Card
from . import attachments
from .models import CardEmail


class EmailSchema(Schema):
    id = fields.Integer()
    card_id = fields.Integer()
    from_ = fields.String(data_key="from", attribute="from_address")
    to = fields.List(fields.String())
    cc = fields.List(fields.String())
    subject = fields.String()
    text = fields.String()
    html = fields.String(
        allow_none=True, metadata={"description": "The HTML part, sanitised; null if none."}
    )
    received_at = Instant()
    message_id = fields.String(allow_none=True)
    files = fields.List(
        fields.Dict(),
        metadata={"description": "The card files made from its attachments (as GET /files/{id})."},
    )


class EmailListArgsSchema(PageArgsSchema):
    pass


class RecipientSchema(Schema):
    address = fields.String()
    card_id = fields.Integer()


class DeliveryArgsSchema(Schema):
    recipient = fields.List(
        fields.String(validate=validate.Length(min=3, max=320)),
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The envelope's recipients (RCPT TO), repeated."},
    )


class DeliveredSchema(Schema):
    card_id = fields.Integer()
    email_id = fields.Integer()
    duplicate = fields.Boolean(metadata={"description": "Already on the card: nothing new."})


class DeliverySchema(Schema):
    delivered = fields.List(fields.Nested(DeliveredSchema))
    refused = fields.List(
        fields.String(), metadata={"description": "Recipients that name no live card."}
    )


def with_files(session: Session, emails: list[CardEmail]) -> list[CardEmail]:
    """``emails``, each given ``files`` (the JSON of its attachments' files) to be shown."""
    for email in emails:
        setattr(email, "files", attachments.files_data(session, list(email.file_ids or [])))  # noqa: B010
    return emails


def email_data(session: Session, email: CardEmail) -> dict[str, Any]:
    """The e-mail as the API shows it."""
    data: dict[str, Any] = EmailSchema().dump(with_files(session, [email])[0])
    return data


def email_event_data(card: Card, data: dict[str, Any]) -> dict[str, Any]:
    """``email.received``'s payload: the e-mail without its bodies (read them with
    ``GET /emails/{id}``; a 20 MB message stays out of the event feed), plus the card's
    product and owner so that readers can apply the access rule."""
    payload = {key: value for key, value in data.items() if key not in ("text", "html")}
    return {**payload, "product_id": card.product_id, "owner_id": card.owner_id}
