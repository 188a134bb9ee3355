"""Task actions: close, reopen, postpone (+1 day, next Monday, a picked date) and reassign.

They are posted from the Today view and from a card's page. With htmx the answer is the part
of the page that changed (the task's row and the totals, or the card's task list); without
JavaScript the browser is sent back to the page it came from.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cardcrm.common.db import get_session
from cardcrm.common.errors import CardcrmError, Invalid
from cardcrm.common.timeutil import utcnow
from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..tasks import service
from ..tasks.models import Task
from ..tasks.today import SHOWS, totals
from .cards import CARD_CHANGED, tasks_context
from .display import user_zone
from .errors import error_message, flash_error
from .forms import optional_date, optional_int, safe_next, text
from .security import current_user, is_htmx
from .today import requested_period, task_row

bp = Blueprint("tasks", __name__)

MONDAY = 0


@bp.post("/tasks/<int:task_id>/close")
def close(task_id: int) -> Any:
    outcome = "cancelled" if text("outcome") == "cancelled" else "done"
    return _act(
        task_id, lambda db, user: service.close_task(db, user, task_id, outcome, None, None)
    )


@bp.post("/tasks/<int:task_id>/reopen")
def reopen(task_id: int) -> Any:
    return _act(task_id, lambda db, user: service.reopen_task(db, user, task_id, None))


@bp.post("/tasks/<int:task_id>/postpone")
def postpone(task_id: int) -> Any:
    def change(db: Any, user: Any) -> Task:
        task = service.get_task(db, task_id, viewer=current_user())
        due = postponed_deadline(task, text("when"), optional_date("date"), user_zone())
        return service.postpone_task(db, user, task_id, due, None)

    return _act(task_id, change)


@bp.post("/tasks/<int:task_id>/reassign")
def reassign(task_id: int) -> Any:
    assignee = optional_int("assignee_id", label="assignee_id")
    if assignee is None:
        raise Invalid({"assignee_id": [_("Choose who does the task.")]})
    changes = {"assignee_id": assignee}
    return _act(task_id, lambda db, user: service.update_task(db, user, task_id, changes, None))


def postponed_deadline(
    task: Task, when: str, picked: date | None, zone: ZoneInfo, now: datetime | None = None
) -> date | datetime:
    """The new deadline of a postponement; a timed task keeps its time of day.

    ``day``: one day after the deadline, or tomorrow when the deadline has passed (postponing
    should not leave a task overdue); ``monday``: the first Monday after that base day;
    ``date``: the day picked.
    """
    today = (now or utcnow()).astimezone(zone).date()
    local = task.due.astimezone(zone)
    current = task.due_date if task.all_day and task.due_date else local.date()
    base = max(current, today)
    if when == "day":
        day = base + timedelta(days=1)
    elif when == "monday":
        day = base + timedelta(days=(MONDAY - base.weekday() - 1) % 7 + 1)
    elif when == "date":
        if picked is None:
            raise Invalid({"date": [_("Pick the new date.")]})
        day = picked
    else:
        raise Invalid({"when": [_("Choose +1 day, next Monday or a date.")]})
    if task.all_day:
        return day
    return datetime.combine(day, local.time(), tzinfo=zone)


def _act(task_id: int, change: Any) -> Any:
    db, user = get_session(), current_user()
    view = text("view")
    try:
        task = change(db, user)
        error = None
    except CardcrmError as refused:
        if not is_htmx():
            flash_error(refused)
            return redirect(safe_next(text("next"), url_for("web.today.index")))
        task, error = service.get_task(db, task_id, viewer=current_user()), refused
    if not is_htmx():
        return redirect(safe_next(text("next"), url_for("web.today.index")))
    if view == "card":
        return _card_tasks(task, error)
    return _today_row(task, error)


def _today_row(task: Task, error: CardcrmError | None) -> Any:
    db, user = get_session(), current_user()
    period, _window = requested_period(user, request.form)
    row = task_row(task, period)
    show = text("show")
    page = render_template(
        "today/_task_action.html",
        task=row,
        period=period,
        show=show if show in SHOWS else "tasks",
        totals=totals(db, user, period),
        error=error_message(error),
    )
    return page, _status(error)


def _card_tasks(task: Task, error: CardcrmError | None) -> Any:
    context = tasks_context(get_session(), task.card)
    context["task_error"] = {task.id: error_message(error)} if error else {}
    page = render_template("cards/_tasks.html", **context)
    return (page, _status(error)) if error else (page, 200, CARD_CHANGED)


def _status(error: CardcrmError | None) -> int:
    return error.status if error else 200
