"""The home page: the Today view (four totals, the period, the task list) and quick access."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid
from flask import Blueprint, render_template, request

from ..auth.models import User
from ..quick_access.service import list_favorites, recent_cards
from ..tasks.models import Task
from ..tasks.schemas import TaskSchema
from ..tasks.today import Period, period_for, task_page, totals
from .forms import messages_of, optional_date
from .quick_access import favorite_links, wall_items
from .security import current_user, is_htmx

bp = Blueprint("today", __name__)

#: Tasks shown at once; more come with "Show more".
TASK_PAGE = 50
RECENT_IN_PANEL = 8
WALL_IN_PANEL = 5


@bp.get("/")
def index() -> Any:
    db, user = get_session(), current_user()
    period, errors = requested_period(user, request.args)
    tasks, next_cursor = task_page(db, user, period, TASK_PAGE, _cursor(errors))
    context = {
        "period": period,
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
    if task.all_day and task.due_date is not None:
        item["overdue"] = task.due_date < period.first
        item["after_period"] = task.due_date > period.last
    else:
        item["overdue"] = task.due < period.start
        item["after_period"] = task.due >= period.end
    return item
