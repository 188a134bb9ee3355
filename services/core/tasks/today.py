"""The Today view: a user's four totals and task list for a period of whole local days.

Meanings (DESIGN.md §1), for the tasks assigned to the user, in the user's time zone:
``overdue`` open tasks whose deadline has passed — a timed task once its deadline is before
now, an all-day task once its day has ended — the same whatever period is shown; ``due`` open
tasks with a deadline inside the period that has not passed; ``closed`` tasks the user closed
as done inside the period; ``postponed`` tasks postponed inside the period to a deadline after
its end. A task due between now and a future period's start is in neither list. Tasks of cards
in the trash count nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.timeutil import OUT_OF_CALENDAR, in_calendar, utcnow
from cardcrm.common.translate import gettext as _
from flask import current_app, has_app_context
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from ..access import Scope, scope_of
from ..auth.models import User
from ..cards.models import Card
from ..products.models import Product, Status
from .models import Postponement, Task
from .schemas import task_json

MAX_PERIOD_DAYS = 366
#: The widest gap between an all-day task's stored instant and the same date elsewhere.
ZONE_SLACK = timedelta(hours=27)
#: The lists the view can show: its usual one (overdue, then due) or one total's tasks.
SHOWS = ("tasks", "due", "overdue", "closed", "postponed")


def now() -> datetime:
    """The current instant: the app's ``CLOCK`` setting when there is one (tests fix time)."""
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    return clock() if clock else utcnow()


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    zone: ZoneInfo
    #: The instant the view is computed at: what has passed is overdue.
    now: datetime

    @property
    def start(self) -> datetime:
        """The first instant of the period (local midnight; DST days have their real length)."""
        return datetime.combine(self.first, time(), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=self.zone)

    @property
    def today(self) -> date:
        """Today in the user's zone: an all-day task of an earlier day is overdue."""
        return self.now.astimezone(self.zone).date()

    def is_overdue(self, task: Task) -> bool:
        """Whether an open task's deadline has passed (the rule ``_is_overdue`` puts in SQL)."""
        if task.all_day and task.due_date is not None:
            return task.due_date < self.today
        return task.due < self.now

    def is_after(self, task: Task) -> bool:
        """Whether the task's deadline lies after the period."""
        if task.all_day and task.due_date is not None:
            return task.due_date > self.last
        return task.due >= self.end


def period_for(
    user: User, first: date | None, last: date | None, at: datetime | None = None
) -> Period:
    for name, day in (("from", first), ("to", last)):
        if day is not None and not in_calendar(day):
            raise Invalid({name: [OUT_OF_CALENDAR]})
    zone = ZoneInfo(user.timezone)
    at = at or now()
    today = at.astimezone(zone).date()
    first = first or (last if last and last < today else today)
    last = last or max(first, today)
    if first > last:
        raise Invalid({"from": [_("The period's start is after its end.")]})
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise Invalid({"to": [_("A period is at most %(days)s days.", days=MAX_PERIOD_DAYS)]})
    return Period(first, last, zone, at)


def _is_overdue(period: Period) -> Any:
    return case(
        (Task.all_day, Task.due_date < period.today),
        else_=Task.due < period.now,
    )


def _is_due(period: Period) -> Any:
    return case(
        (
            Task.all_day,
            and_(
                Task.due_date >= period.first,
                Task.due_date <= period.last,
                Task.due_date >= period.today,
            ),
        ),
        else_=and_(Task.due >= period.start, Task.due < period.end, Task.due >= period.now),
    )


def _open_tasks_in_reach(scope: Scope, user: User, period: Period) -> list[Any]:
    """Conditions of the user's open, visible tasks that can be overdue or due (index range)."""
    return [
        Task.assignee_id == user.id,
        Task.status == "open",
        Task.due < max(period.end, period.now) + ZONE_SLACK,
        Task.card_trashed.is_(False),
        *_in_sight(scope),
    ]


def _in_sight(scope: Scope) -> list[Any]:
    """Tasks on cards the user may see (``access``'s one rule), as a list of WHERE conditions."""
    condition = scope.tasks_condition()
    return [] if condition is None else [condition]


def _closed(scope: Scope, user: User, period: Period) -> list[Any]:
    """Conditions of the tasks the user closed as done inside the period."""
    return [
        Task.closed_by_id == user.id,
        Task.assignee_id == user.id,
        Task.status == "done",
        Task.closed_at >= period.start,
        Task.closed_at < period.end,
        Task.card_trashed.is_(False),
        *_in_sight(scope),
    ]


def _postponed_ids(user: User, period: Period) -> Any:
    """The tasks the user postponed inside the period to a deadline after its end."""
    return select(Postponement.task_id).where(
        Postponement.assignee_id == user.id,
        Postponement.at >= period.start,
        Postponement.at < period.end,
        Postponement.after >= period.end,
    )


def _postponed(scope: Scope, user: User, period: Period) -> list[Any]:
    return [
        Task.id.in_(_postponed_ids(user, period)),
        Task.assignee_id == user.id,
        Task.card_trashed.is_(False),
        *_in_sight(scope),
    ]


def totals(session: Session, user: User, period: Period) -> dict[str, int]:
    scope = scope_of(session, user)
    overdue, due = session.execute(
        select(
            func.count().filter(_is_overdue(period)),
            func.count().filter(_is_due(period)),
        ).where(*_open_tasks_in_reach(scope, user, period))
    ).one()
    closed = session.scalar(select(func.count()).where(*_closed(scope, user, period)))
    postponed = session.scalar(select(func.count()).where(*_postponed(scope, user, period)))
    return {
        "due": due or 0,
        "overdue": overdue or 0,
        "closed": closed or 0,
        "postponed": postponed or 0,
    }


def _list_conditions(session: Session, user: User, period: Period, show: str) -> list[Any]:
    scope = scope_of(session, user)
    if show == "closed":
        return _closed(scope, user, period)
    if show == "postponed":
        return _postponed(scope, user, period)
    in_reach = _open_tasks_in_reach(scope, user, period)
    if show == "due":
        return [*in_reach, _is_due(period)]
    if show == "overdue":
        return [*in_reach, _is_overdue(period)]
    return [*in_reach, or_(_is_overdue(period), _is_due(period))]


def task_page(
    session: Session,
    user: User,
    period: Period,
    limit: int,
    cursor: str | None,
    show: str = "tasks",
    *,
    mark_after: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """One of the view's lists, in deadline order; the usual one puts the overdue tasks first.

    ``show`` is ``tasks`` (overdue, then due in the period), or the tasks behind one total:
    ``due``, ``overdue``, ``closed`` or ``postponed``. ``mark_after`` adds ``after_period``
    (the deadline lies after the period: a postponed task) for the web page.
    """
    if show not in SHOWS:
        raise Invalid({"show": [_("One of: %(choices)s.", choices=", ".join(SHOWS))]})
    overdue = _is_overdue(period)
    # The rank keeps the overdue tasks first in the usual list: an all-day task of today is
    # stored at local midnight, yet a timed task earlier today may already be overdue.
    rank = case((overdue, 0), else_=1) if show == "tasks" else literal(0)
    query = (
        select(
            Task,
            overdue.label("overdue"),
            Card.title,
            Product.name,
            Status.name,
            Status.group,
        )
        .join(Card, Card.id == Task.card_id)
        .join(Product, Product.id == Task.product_id)
        .join(Status, Status.id == Card.status_id)
        .where(*_list_conditions(session, user, period, show))
    )
    position = decode_cursor(cursor)
    if position is not None:
        try:
            after_rank = int(position.get("rank", 0))
            after_due, after_id = datetime.fromisoformat(position["due"]), int(position["id"])
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise Invalid({"cursor": [_("Not a cursor this API gave out.")]}) from error
        query = query.where(
            or_(
                rank > after_rank,
                and_(
                    rank == after_rank,
                    or_(Task.due > after_due, and_(Task.due == after_due, Task.id > after_id)),
                ),
            )
        )
    rows = session.execute(query.order_by(rank, Task.due, Task.id).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last, last_overdue = rows[-1][0], rows[-1][1]
        last_rank = 0 if show != "tasks" or last_overdue else 1
        next_cursor = encode_cursor({"rank": last_rank, "due": last.due.isoformat(), "id": last.id})
    tasks = []
    for task, is_overdue, card_title, product_name, status_name, status_group in rows:
        item = task_json(task)
        item["card"] = {"id": task.card_id, "title": card_title}
        item["product"] = {"id": task.product_id, "name": product_name}
        item["card_status"] = {"name": status_name, "group": status_group}
        item["overdue"] = bool(is_overdue) and task.status == "open"
        if mark_after:
            item["after_period"] = period.is_after(task)
        tasks.append(item)
    return tasks, next_cursor
