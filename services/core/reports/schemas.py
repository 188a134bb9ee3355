"""The reports' query strings and answers (they make the OpenAPI document)."""

from __future__ import annotations

from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, fields, validate

from .period import SHORTCUTS


class ReportArgsSchema(Schema):
    """The subject of a report: one product, or (without ``product_id``) the team."""

    product_id = fields.Integer(
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "One product; without it, every product the caller sees."},
    )


class PeriodArgsSchema(ReportArgsSchema):
    from_ = fields.Date(
        data_key="from",
        attribute="from",
        metadata={"description": "First day, in the caller's time zone."},
    )
    to = fields.Date(metadata={"description": "Last day (included)."})
    period = fields.String(
        validate=validate.OneOf(SHORTCUTS),
        metadata={"description": "A shortcut instead of dates; default this_month."},
    )


class ProductRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class PersonSchema(Schema):
    id = fields.Integer(allow_none=True)
    name = fields.String()


class MoneySchema(Schema):
    currency = fields.String(allow_none=True)
    amount = fields.String(metadata={"description": "Decimal with two places."})


class PeriodSchema(Schema):
    from_ = fields.String(data_key="from", attribute="from", metadata={"format": "date"})
    to = fields.String(metadata={"format": "date"})
    timezone = fields.String()
    shortcut = fields.String(allow_none=True)


class GroupCountSchema(Schema):
    group = fields.String()
    count = fields.Integer()
    values = fields.List(fields.Nested(MoneySchema))


class StatusCountSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    group = fields.String()
    product = fields.Nested(ProductRefSchema)
    count = fields.Integer()
    value = fields.String(allow_none=True, metadata={"description": "Sum of the money field."})
    currency = fields.String(allow_none=True)


class FunnelSchema(Schema):
    product = fields.Nested(ProductRefSchema, allow_none=True)
    total = fields.Integer()
    groups = fields.List(fields.Nested(GroupCountSchema))
    statuses = fields.List(fields.Nested(StatusCountSchema))


class OutcomeSchema(Schema):
    count = fields.Integer()
    values = fields.List(fields.Nested(MoneySchema))


class OutcomesSchema(Schema):
    product = fields.Nested(ProductRefSchema, allow_none=True)
    period = fields.Nested(PeriodSchema)
    won = fields.Nested(OutcomeSchema)
    lost = fields.Nested(OutcomeSchema)
    win_rate = fields.Float(allow_none=True, metadata={"description": "won / (won + lost)"})
    average_days_to_won = fields.Float(allow_none=True)


class WeekSchema(Schema):
    from_ = fields.String(data_key="from", attribute="from", metadata={"format": "date"})
    to = fields.String(metadata={"format": "date"})


class ClosedByPersonSchema(Schema):
    user = fields.Nested(PersonSchema)
    weeks = fields.List(fields.Integer(), metadata={"description": "One count per week."})
    total = fields.Integer()


class TasksClosedSchema(Schema):
    product = fields.Nested(ProductRefSchema, allow_none=True)
    period = fields.Nested(PeriodSchema)
    weeks = fields.List(fields.Nested(WeekSchema))
    people = fields.List(fields.Nested(ClosedByPersonSchema))
    total = fields.Integer()


class OverdueByPersonSchema(Schema):
    user = fields.Nested(PersonSchema)
    count = fields.Integer()
    oldest_due = Instant()


class OverdueSchema(Schema):
    product = fields.Nested(ProductRefSchema, allow_none=True)
    now = Instant()
    people = fields.List(fields.Nested(OverdueByPersonSchema))
    total = fields.Integer()
