"""The Reports page: the same figures as ``GET /api/v1/reports/...``, with server-side SVG bars.

The page calls the reports' service functions (the API's), so its numbers are the API's; the
charts are plain SVG drawn from them (no script), each with its numbers in a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid
from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, ValidationError

from ..reports import service
from ..reports.period import report_period
from ..reports.schemas import PeriodArgsSchema
from ..reports.sql import money_field
from ..reports.views import now
from .dates import current_locale, first_week_day, format_day
from .display import GROUP_LABELS
from .forms import messages_of
from .numbers import format_money, format_number
from .security import current_user

bp = Blueprint("reports", __name__)

SHORTCUT_LABELS = {
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
    "this_quarter": _l("This quarter"),
    "this_year": _l("This year"),
}


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, the number it shows, its length (% of the widest)."""

    label: str
    value: float
    text: str
    css: str = ""

    def percent(self, top: float) -> float:
        return round(100 * self.value / top, 2) if top else 0.0


def bars_top(bars: list[Bar]) -> float:
    return max((bar.value for bar in bars), default=0.0)


def number(value: Any, pattern: str = "#,##0.00") -> str:
    """A figure as the reader writes it: ``12.5`` in English, ``12,5`` in Romanian."""
    return format_decimal(Decimal(str(value)), format=pattern, locale=current_locale())


def money_text(values: list[dict[str, Any]]) -> str:
    """``€1,800.50`` / ``1.800,50 lei`` (several currencies joined by ``+``); empty without a
    money field."""
    return " + ".join(format_money(item["amount"], item["currency"]) for item in values)


@bp.get("/reports")
def index() -> Any:
    db, user = get_session(), current_user()
    errors: dict[str, list[str]] = {}
    args: dict[str, Any] = {}
    try:
        args = PeriodArgsSchema(unknown=EXCLUDE).load(request.args)
        period = report_period(
            user.timezone,
            now(),
            args.get("from"),
            args.get("to"),
            args.get("period"),
            first_weekday=first_week_day(),
        )
    except (ValidationError, Invalid) as error:
        errors = messages_of(error)
        period = report_period(user.timezone, now(), first_weekday=first_week_day())
    subject = service.subject_for(db, user, args.get("product_id"))
    products = service.subject_for(db, user, None).products
    funnel = service.funnel(db, subject)
    outcomes = service.outcomes(db, subject, period)
    closed = _with_nobody_named(service.tasks_closed(db, subject, period))
    overdue = _with_nobody_named(service.overdue(db, subject, now()))
    return render_template(
        "reports/index.html",
        subject=subject,
        products=products,
        period=period,
        shortcuts=SHORTCUT_LABELS,
        shortcut_links=_shortcut_links(args.get("product_id")),
        form={key: request.args.get(key, "") for key in ("from", "to")},
        errors=errors,
        funnel=funnel,
        funnel_bars=_funnel_bars(funnel, subject.product is None),
        money_label=_money_label(subject),
        groups=_groups(funnel),
        outcomes=outcomes,
        closed=closed,
        closed_bars=[
            Bar(
                person["user"]["name"],
                person["total"],
                format_number(person["total"]),
                "bar-positive",
            )
            for person in closed["people"]
        ],
        week_columns=_week_columns(closed),
        overdue=overdue,
        overdue_bars=[
            Bar(
                person["user"]["name"],
                person["count"],
                format_number(person["count"]),
                "bar-negative",
            )
            for person in overdue["people"]
        ],
        money_text=money_text,
        number=number,
        bars_top=bars_top,
        bar=Bar,
        group_labels=GROUP_LABELS,
    ), (422 if errors else 200)


def _money_label(subject: service.Subject) -> str | None:
    """What the values are the sum of, in words (None: no product has a money field)."""
    if subject.product is None:
        has_money = any(money_field(product) for product in subject.products)
        return _("each product's first money field") if has_money else None
    field = money_field(subject.product)
    return _("the “%(field)s” field", field=field["label"]) if field else None


def _with_nobody_named(report: dict[str, Any]) -> dict[str, Any]:
    """The API calls the row of tasks without a person "Nobody" (data, in English); the page
    says it in the reader's language."""
    for person in report["people"]:
        if person["user"]["id"] is None:
            person["user"] = {**person["user"], "name": _("Nobody")}
    return report


def _shortcut_links(product_id: int | None) -> dict[str, dict[str, Any]]:
    base = {"product_id": product_id} if product_id else {}
    return {key: {**base, "period": key} for key in SHORTCUT_LABELS}


def _funnel_bars(funnel: dict[str, Any], team: bool) -> list[Bar]:
    bars = []
    for status in funnel["statuses"]:
        label = f"{status['product']['name']} · {status['name']}" if team else status["name"]
        text = format_number(status["count"])
        if status["value"] is not None and Decimal(status["value"]):
            text += " · " + format_money(status["value"], status["currency"])
        bars.append(Bar(_short(label), status["count"], text, f"bar-{status['group']}"))
    return bars


def _groups(funnel: dict[str, Any]) -> list[dict[str, Any]]:
    """The status groups as segments of one 100 % bar: where each starts and how wide it is."""
    total = funnel["total"]
    segments, start = [], 0.0
    for group in funnel["groups"]:
        width = round(100 * group["count"] / total, 2) if total else 0.0
        segments.append({**group, "start": start, "width": width})
        start += width
    return segments


def _week_columns(closed: dict[str, Any]) -> list[dict[str, Any]]:
    """The team's tasks closed per week, as columns: height in % of the busiest week."""
    totals = [0] * len(closed["weeks"])
    for person in closed["people"]:
        for index, count in enumerate(person["weeks"]):
            totals[index] += count
    top = max(totals, default=0)
    every = max(1, len(totals) // 8)  # a label on every n-th column, so they never overlap
    columns = []
    for index, (week, total) in enumerate(zip(closed["weeks"], totals, strict=True)):
        columns.append(
            {
                "week": week,
                "total": total,
                "height": round(100 * total / top, 2) if top else 0.0,
                "labelled": index % every == 0,
                # (every other label is left out at phone width: see app.css)
                "minor": index % (2 * every) != 0,
                "label": format_day(week["from"], "day_month"),
            }
        )
    return columns


def _short(label: str, limit: int = 34) -> str:
    """A bar's label fits beside its number on a phone; the table keeps the whole name."""
    return label if len(label) <= limit else label[: limit - 1] + "…"
