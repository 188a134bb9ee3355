"""Request and response schemas of the inbox."""

from __future__ import annotations

from cardcrm.common.pagination import PageArgsSchema
from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, fields


class InboxArgsSchema(PageArgsSchema):
    unread = fields.Boolean(metadata={"description": "Only unread (true) or read (false) items."})


class InboxItemSchema(Schema):
    id = fields.Integer()
    rule = fields.String(
        metadata={"description": "assigned, due_reminder, daily_digest or status_changed"}
    )
    type = fields.String(metadata={"description": "The event type (e.g. task.created)."})
    title = fields.String()
    text = fields.String()
    url = fields.String(allow_none=True, metadata={"description": "The card in the web UI."})
    card_id = fields.Integer(allow_none=True)
    event_id = fields.Integer(allow_none=True)
    at = Instant(metadata={"description": "When what it tells of happened."})
    created_at = Instant()
    read = fields.Function(lambda item: item.read_at is not None, dump_default=False)
    read_at = Instant(allow_none=True)


class InboxSummarySchema(Schema):
    unread = fields.Integer()
    latest_id = fields.Integer(allow_none=True, metadata={"description": "The newest item's id."})


class ReadAllSchema(Schema):
    marked = fields.Integer(metadata={"description": "How many items were marked read."})
