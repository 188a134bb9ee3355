"""The home page: the Today view (four totals, the period, the task list) and quick access."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid
from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth.models import User
from ..products.task_types import BUILTIN_TASK_TYPES
from ..quick_access.service import list_favorites, recent_cards
from ..tasks.models import Task
from ..tasks.schemas import TaskSchema
from ..tasks.today import SHOWS, Period, period_for, task_page, totals
from .dates import current_locale, first_week_day, week_start
from .favorite_links import favorite_links
from .forms import messages_of, optional_date
from .quick_access import wall_items
from .security import current_user, is_htmx

bp = Blueprint("today", __name__)

#: Tasks shown at once; more come with "Show more".
TASK_PAGE = 50
RECENT_IN_PANEL = 8
WALL_IN_PANEL = 5

#: What each of the four totals' lists is called on the page.
LIST_TITLES = {
    "due": _l("Due in this period"),
    "overdue": _l("Overdue"),
    "closed": _l("Closed in this period"),
    "postponed": _l("Postponed in this period"),
}


#: The built-in task types' names by key (a product's own types show their stored key).
BUILTIN_TYPE_NAMES = {item["key"]: item["label"] for item in BUILTIN_TASK_TYPES}


@bp.app_template_filter("task_type_name")
def task_type_name(key: str) -> str:
    """A task's type as a row's meta line says it: a built-in one in the reader's words, in
    lower case like the rest of that line (``call``, ``apel``)."""
    label = BUILTIN_TYPE_NAMES.get(key)
    return str(label).lower() if label is not None else key


def first_weekday(user: User) -> int:
    """The day a week starts on (0 = Monday): the reader's locale's first day (CLDR), the one
    place that decides it for the Today view's shortcuts and the reports' weeks."""
    return first_week_day(current_locale())


@dataclass(frozen=True)
class Shortcut:
    label: str
    first: date
    last: date


def shortcuts(user: User, period: Period) -> list[Shortcut]:
    """Today, tomorrow, this week, next week and this month, in the user's zone."""
    today = period.today
    week = week_start(today, first_weekday(user))
    month_days = calendar.monthrange(today.year, today.month)[1]
    return [
        Shortcut(_("Today"), today, today),
        Shortcut(_("Tomorrow"), today + timedelta(days=1), today + timedelta(days=1)),
        Shortcut(_("This week"), week, week + timedelta(days=6)),
        Shortcut(_("Next week"), week + timedelta(days=7), week + timedelta(days=13)),
        Shortcut(_("This month"), today.replace(day=1), today.replace(day=month_days)),
    ]


def _whole_month(first: date, last: date) -> bool:
    return (
        first.day == 1
        and (first.year, first.month) == (last.year, last.month)
        and last.day == calendar.monthrange(last.year, last.month)[1]
    )


def _month_after(day: date, months: int) -> tuple[date, date]:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first = date(year, month + 1, 1)
    return first, first.replace(day=calendar.monthrange(year, month + 1)[1])


def shifted(period: Period, step: int) -> tuple[date, date] | None:
    """The period before (``step=-1``) or after (``+1``): as long as this one, a month for a
    whole month; ``None`` past the calendar's ends."""
    try:
        if _whole_month(period.first, period.last):
            return _month_after(period.first, step)
        length = timedelta(days=(period.last - period.first).days + 1)
        return period.first + step * length, period.last + step * length
    except (OverflowError, ValueError):
        return None


@bp.get("/")
def index() -> Any:
    db, user = get_session(), current_user()
    period, errors = requested_period(user, request.args)
    show = request.args.get("show", "tasks")
    if show not in SHOWS:
        errors = {**errors, "show": [_("There is no such list; showing the tasks.")]}
        show = "tasks"
    tasks, next_cursor = task_page(
        db, user, period, TASK_PAGE, _cursor(errors), show, mark_after=True
    )
    context = {
        "period": period,
        "show": show,
        "list_title": LIST_TITLES.get(show),
        "shortcuts": shortcuts(user, period),
        "earlier": shifted(period, -1),
        "later": shifted(period, 1),
        "totals": totals(db, user, period),
        "tasks": tasks,
        "next_cursor": next_cursor,
        "errors": errors,
        "favorites": favorite_links(db, list_favorites(db, user, None)),
        "recent": recent_cards(db, user)[:RECENT_IN_PANEL],
        "wall": wall_items(db, None, WALL_IN_PANEL),
    }
    if request.args.get("cursor") and is_htmx():
        return render_template("today/_more.html", **context)
    return render_template("today/index.html", **context), 422 if errors else 200


def requested_period(user: User, values: Any) -> tuple[Period, dict[str, list[str]]]:
    """The period asked for (``from``/``to``); a bad one is reported and today shown instead."""
    try:
        return period_for(user, optional_date("from", values), optional_date("to", values)), {}
    except Invalid as error:
        return period_for(user, None, None), messages_of(error)


def _cursor(errors: dict[str, list[str]]) -> str | None:
    cursor = request.args.get("cursor")
    return cursor if cursor and not errors else None


def task_row(task: Task, period: Period) -> dict[str, Any]:
    """One task as ``task_page`` gives it, plus where it stands after a change."""
    card = task.card
    item = TaskSchema().dump(task)
    item["card"] = {"id": card.id, "title": card.title}
    item["product"] = {"id": card.product_id, "name": card.product.name}
    item["card_status"] = {"name": card.status.name, "group": card.status.group}
    item["overdue"] = task.status == "open" and period.is_overdue(task)
    item["after_period"] = period.is_after(task)
    return item
