"""HTTP API of the reports: ``GET /api/v1/reports/{funnel,outcomes,tasks-closed,overdue}``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.api import ApiBlueprint
from cardcrm.common.db import get_session
from cardcrm.common.timeutil import utcnow
from flask import current_app

from ..auth.service import current_user
from . import service
from .period import ReportPeriod, report_period
from .schemas import (
    FunnelSchema,
    OutcomesSchema,
    OverdueSchema,
    PeriodArgsSchema,
    ReportArgsSchema,
    TasksClosedSchema,
)

bp = ApiBlueprint("reports", __name__, tag="Reports")


def now() -> datetime:
    """The report's clock (``CLOCK`` in the app's config lets tests fix it)."""
    clock = current_app.config.get("CLOCK") or utcnow
    return clock()


def period_of(args: dict[str, Any]) -> ReportPeriod:
    return report_period(
        current_user().timezone, now(), args.get("from"), args.get("to"), args.get("period")
    )


@bp.operation("/reports/funnel", query=ReportArgsSchema, response=FunnelSchema, errors=(404, 422))
def funnel(args: dict[str, Any]) -> Any:
    """Cards per status and per status group, as they stand now.

    Statuses come in their product's order (products by name for the team); ``value`` sums
    the product's first money field. ``product_id`` keeps one product; without it, every
    product the caller sees. Only cards the caller may see count; cards in the trash never.
    """
    session = get_session()
    return service.funnel(
        session, service.subject_for(session, current_user(), args.get("product_id"))
    )


@bp.operation(
    "/reports/outcomes", query=PeriodArgsSchema, response=OutcomesSchema, errors=(404, 422)
)
def outcomes(args: dict[str, Any]) -> Any:
    """Cards won and lost in the period, their money values, win rate and time to won.

    A card counts by the last move in the period that took it into the positive (won) or
    negative (lost) group from another group. ``win_rate`` is won / (won + lost);
    ``average_days_to_won`` runs from each won card's creation to that move. The period is
    ``from``/``to`` (days in the caller's zone, at most 366) or ``period``; this month by default.
    """
    session = get_session()
    period = period_of(args)
    subject = service.subject_for(session, current_user(), args.get("product_id"))
    return service.outcomes(session, subject, period)


@bp.operation(
    "/reports/tasks-closed", query=PeriodArgsSchema, response=TasksClosedSchema, errors=(404, 422)
)
def tasks_closed(args: dict[str, Any]) -> Any:
    """Tasks closed as done in the period, per person who closed them, per week.

    Weeks run Monday to Sunday in the caller's time zone; the first and last are cut to the
    period. ``weeks`` in each person's row has one count per week of the top-level ``weeks``.
    """
    session = get_session()
    period = period_of(args)
    subject = service.subject_for(session, current_user(), args.get("product_id"))
    return service.tasks_closed(session, subject, period)


@bp.operation("/reports/overdue", query=ReportArgsSchema, response=OverdueSchema, errors=(404, 422))
def overdue(args: dict[str, Any]) -> Any:
    """Open tasks whose deadline has passed, per assignee, as of now.

    A timed task is overdue once its deadline is before now, an all-day task once its day
    has ended in its assignee's time zone.
    """
    session = get_session()
    subject = service.subject_for(session, current_user(), args.get("product_id"))
    return service.overdue(session, subject, now())
