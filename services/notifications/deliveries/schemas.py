"""Request and response schemas of the delivery log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cardcrm.common.pagination import PageArgsSchema
from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, fields, validate

from .models import STATES


class DeliveryArgsSchema(PageArgsSchema):
    state = fields.String(validate=validate.OneOf(STATES))
    channel = fields.String(validate=validate.Length(min=1, max=64))


class NextAttempt(Instant):
    """Only meaningful while a delivery waits: a lease or an old retry time is no news."""

    def serialize(
        self,
        attr: str,
        obj: Any,
        accessor: Callable[[Any, str, Any], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if getattr(obj, "state", None) not in ("pending", "retrying"):
            return None
        return super().serialize(attr, obj, accessor, **kwargs)


class DeliverySchema(Schema):
    id = fields.Integer()
    channel = fields.String()
    rule = fields.String(attribute="notification.rule")
    event_id = fields.Integer(
        attribute="notification.event_id",
        allow_none=True,
        metadata={"description": "The core event behind it (none for reminders and digests)."},
    )
    key = fields.String(
        attribute="notification.key",
        metadata={
            "description": "What caused it: event:<id>, reminder:<task>:<due>, digest:<date>."
        },
    )
    type = fields.String(attribute="notification.type")
    card_id = fields.Integer(attribute="notification.card_id", allow_none=True)
    state = fields.String(validate=validate.OneOf(STATES))
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    next_attempt_at = NextAttempt(
        allow_none=True, metadata={"description": "When a pending or retrying one is tried next."}
    )
    created_at = Instant()
    updated_at = Instant()
    sent_at = Instant(allow_none=True)
