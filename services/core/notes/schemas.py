"""Request and response schemas of notes."""

from __future__ import annotations

from typing import Any

from cardcrm.common.pagination import PageArgsSchema
from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, fields, validate

#: The longest note: a long meeting report fits; a pasted book does not.
MAX_BODY = 100_000
#: The most users one note may mention.
MAX_MENTIONS = 50
BODY = validate.Length(min=1, max=MAX_BODY)


def _body(**options: Any) -> fields.String:
    return fields.String(
        validate=BODY,
        metadata={
            "description": f"Markdown, 1 to {MAX_BODY:,} characters; raw HTML is shown as text."
        },
        **options,
    )


def _mentions() -> fields.List:
    return fields.List(
        fields.Integer(),
        validate=validate.Length(max=MAX_MENTIONS),
        metadata={
            "description": "Ids of the users the note mentions. Those who may not see the card "
            "are left out and listed in the answer's `not_notified`."
        },
    )


class NoteCreateSchema(Schema):
    body = _body(required=True)
    mentions = _mentions()


class NoteUpdateSchema(Schema):
    body = _body()
    mentions = _mentions()


class NoteSchema(Schema):
    id = fields.Integer()
    card_id = fields.Integer()
    author_id = fields.Integer(allow_none=True)
    body = fields.String(metadata={"description": "The Markdown as written."})
    html = fields.String(metadata={"description": "`body` rendered and sanitised."})
    mentions = fields.List(
        fields.Integer(), metadata={"description": "Mentioned users who may see the card."}
    )
    created_at = Instant()
    updated_at = Instant()
    version = fields.Integer()


class NotNotifiedSchema(Schema):
    user_id = fields.Integer()
    reason = fields.String()


class NoteWrittenSchema(NoteSchema):
    not_notified = fields.List(
        fields.Nested(NotNotifiedSchema),
        metadata={"description": "Mentioned users who may not see the card: nothing is sent."},
    )


class NoteListArgsSchema(PageArgsSchema):
    pass


class PreviewSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(max=MAX_BODY))


class PreviewedSchema(Schema):
    html = fields.String()


class MentionableArgsSchema(Schema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Start of a name (or of a word of it) or of an e-mail."},
    )


class MentionableSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
