"""HTTP API of the Today view (``GET /api/v1/today``); its rules are ``tasks.today``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.api import ApiBlueprint, dumps
from cardcrm.common.db import get_session
from cardcrm.common.translate import gettext as _
from flask import Response
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import answers
from .auth.service import checked_principal, current_user
from .tasks.today import SHOWS, period_for, task_page, totals_and_end

bp = ApiBlueprint("today", __name__, tag="Today view")


class TodayArgsSchema(Schema):
    #: What a query string loads to depends on it alone (``api.QueryLoadsKept``): the dates
    #: the period defaults to are worked out by the view, in the caller's zone.
    KEEP_LOADS = True

    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=1000))
    show = fields.String(
        load_default="tasks",
        validate=validate.OneOf(SHOWS),
        metadata={
            "description": "Which list: `tasks` (the default: overdue tasks, then those due in "
            "the period) or the tasks behind one total: `due`, `overdue`, `closed` (closed as "
            "done in the period) or `postponed` (postponed in the period past its end)."
        },
    )

    @validates_schema
    def _order(self, data: dict, **kwargs: object) -> None:
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            raise ValidationError(_("The period's start is after its end."), "from")


TODAY_RESPONSE = {
    "type": "object",
    "properties": {
        "period": {
            "type": "object",
            "properties": {
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "timezone": {"type": "string"},
            },
        },
        "totals": {
            "type": "object",
            "properties": {
                key: {"type": "integer"} for key in ("due", "overdue", "closed", "postponed")
            },
        },
        "show": {"type": "string", "enum": list(SHOWS)},
        "tasks": {"type": "array", "items": {"type": "object"}},
        "next_cursor": {"type": ["string", "null"]},
    },
}


@bp.operation(
    "/today",
    query=TodayArgsSchema,
    raw_response=TODAY_RESPONSE,
    errors=(422,),
    scope="today:read",
    other_responses={304: answers.NOT_MODIFIED},
)
def today_view(args: dict[str, Any]) -> Response:
    """The caller's Today view: four totals and the task list for a period of days.

    ``from`` and ``to`` default to today in the caller's time zone. A task is overdue once its
    deadline has passed (an all-day task once its day has ended), whatever the period; ``due``
    counts the open tasks in the period whose deadline has not passed. Tasks come overdue
    first, then due in the period, each in deadline order, with their card, product and card
    status; ``show`` lists the tasks behind one total instead (``closed`` and ``postponed``
    ones included); ``next_cursor`` pages through long lists.
    """
    # The period needs the caller's time zone only: an answer kept for it makes no session.
    caller = checked_principal().user
    assert caller is not None  # the operation lets in users' tokens only (``authenticate``)
    period = period_for(caller, args.get("from"), args.get("to"))

    def build() -> tuple[bytes, datetime]:
        session = get_session()
        user = current_user()
        tasks, next_cursor = task_page(
            session, user, period, args["limit"], args.get("cursor"), args["show"]
        )
        counts, holds_until = totals_and_end(session, user, period)
        body = {
            "period": {
                "from": period.first.isoformat(),
                "to": period.last.isoformat(),
                "timezone": user.timezone,
            },
            "show": args["show"],
            "totals": counts,
            "tasks": tasks,
            "next_cursor": next_cursor,
        }
        return dumps(body), holds_until

    return answers.answer("today", period.now, build)
