"""Request and response schemas of tasks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cardcrm.common.pagination import PageArgsSchema
from cardcrm.common.schema_fields import RFC3339, Instant
from cardcrm.common.timeutil import OUT_OF_CALENDAR, in_calendar, isoformat_z
from cardcrm.common.translate import N_
from cardcrm.common.translate import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .models import TASK_STATUSES

TEXT = validate.Length(min=1, max=2000)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


class Deadline(fields.Field):
    """``due``: an RFC 3339 instant, or a ``YYYY-MM-DD`` date for an all-day task."""

    default_error_messages = {
        "invalid": N_("Not an RFC 3339 date-time with an offset, nor (for all-day tasks) a date."),
        "range": OUT_OF_CALENDAR,
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date | datetime:
        due = self._parse(value)
        if not in_calendar(due):
            raise self.make_error("range")
        return due

    def _parse(self, value: Any) -> date | datetime:
        if isinstance(value, str) and len(value) == 10:
            try:
                return date.fromisoformat(value)
            except ValueError as error:
                raise self.make_error("invalid") from error
        if not isinstance(value, str) or not RFC3339.match(value):
            raise self.make_error("invalid")
        try:
            # The offset is kept: an all-day task takes the date as the client wrote it.
            return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError as error:
            raise self.make_error("invalid") from error


class RepeatSchema(Schema):
    freq = fields.String(
        required=True, validate=validate.OneOf(("daily", "weekly", "monthly", "yearly"))
    )
    interval = fields.Integer(load_default=1, validate=validate.Range(min=1, max=366))
    weekdays = fields.List(
        fields.String(validate=validate.OneOf(WEEKDAYS)), validate=validate.Length(min=1, max=7)
    )

    @validates_schema
    def _weekdays_only_weekly(self, data: dict, **kwargs: object) -> None:
        if data.get("weekdays") and data.get("freq") != "weekly":
            raise ValidationError(_("Weekdays apply to weekly repeats only."), "weekdays")


class TaskCreateSchema(Schema):
    text = fields.String(required=True, validate=TEXT)
    due = Deadline(required=True)
    all_day = fields.Boolean(load_default=False)
    type = fields.String(validate=validate.Length(min=1, max=64))
    assignee_id = fields.Integer()
    repeat = fields.Nested(RepeatSchema, allow_none=True)


class TaskUpdateSchema(Schema):
    text = fields.String(validate=TEXT)
    due = Deadline()
    all_day = fields.Boolean()
    type = fields.String(validate=validate.Length(min=1, max=64))
    assignee_id = fields.Integer()
    repeat = fields.Nested(RepeatSchema, allow_none=True)


class TaskCloseSchema(Schema):
    outcome = fields.String(load_default="done", validate=validate.OneOf(("done", "cancelled")))
    comment = fields.String(validate=validate.Length(max=2000))


class TaskPostponeSchema(Schema):
    due = Deadline(required=True)


class TaskSchema(Schema):
    id = fields.Integer()
    card_id = fields.Integer()
    product_id = fields.Integer()
    text = fields.String()
    type = fields.String()
    assignee_id = fields.Integer(allow_none=True)
    due = Instant()
    due_date = fields.Date(
        allow_none=True, metadata={"description": "The date of an all-day task."}
    )
    all_day = fields.Boolean()
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    closed_at = Instant(allow_none=True)
    closed_by_id = fields.Integer(allow_none=True)
    postponed_count = fields.Integer()
    repeat = fields.Dict(allow_none=True)
    created_at = Instant()
    updated_at = Instant()
    version = fields.Integer()


def task_json(task: Any) -> dict[str, Any]:
    """``TaskSchema().dump(task)``, written out: the Today view dumps hundreds per request.

    A test keeps the two equal.
    """
    return {
        "id": task.id,
        "card_id": task.card_id,
        "product_id": task.product_id,
        "text": task.text,
        "type": task.type,
        "assignee_id": task.assignee_id,
        "due": isoformat_z(task.due),
        "due_date": task.due_date.isoformat() if task.due_date else None,
        "all_day": task.all_day,
        "status": task.status,
        "closed_at": isoformat_z(task.closed_at),
        "closed_by_id": task.closed_by_id,
        "postponed_count": task.postponed_count,
        "repeat": task.repeat,
        "created_at": isoformat_z(task.created_at),
        "updated_at": isoformat_z(task.updated_at),
        "version": task.version,
    }


class TaskListArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))


class SyncConflictSchema(Schema):
    source = fields.String(required=True, validate=validate.Length(min=1, max=64))
    losing = fields.Dict(required=True, metadata={"description": "The version that lost."})
    winning = fields.Dict(load_default=dict, metadata={"description": "The version that won."})
    detail = fields.String(validate=validate.Length(max=2000))
