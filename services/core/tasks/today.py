"""The Today view: a user's four totals and task list for a period of whole local days.

Meanings (DESIGN.md §1), for the tasks assigned to the user, in the user's time zone:
``due`` open tasks with a deadline inside the period; ``overdue`` open tasks with a deadline
before the period; ``closed`` tasks the user closed as done inside the period; ``postponed``
tasks postponed inside the period to a deadline after its end. An all-day task counts on its
date. Tasks of cards in the trash count nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.timeutil import OUT_OF_CALENDAR, in_calendar, utcnow
from sqlalchemy import and_, case, func, or_, select
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


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        """The first instant of the period (local midnight; DST days have their real length)."""
        return datetime.combine(self.first, time(), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=self.zone)


def period_for(
    user: User, first: date | None, last: date | None, now: datetime | None = None
) -> Period:
    for name, day in (("from", first), ("to", last)):
        if day is not None and not in_calendar(day):
            raise Invalid({name: [OUT_OF_CALENDAR]})
    zone = ZoneInfo(user.timezone)
    today = (now or utcnow()).astimezone(zone).date()
    first = first or (last if last and last < today else today)
    last = last or max(first, today)
    if first > last:
        raise Invalid({"from": ["The period's start is after its end."]})
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise Invalid({"to": [f"A period is at most {MAX_PERIOD_DAYS} days."]})
    return Period(first, last, zone)


def _is_overdue(period: Period) -> Any:
    return case(
        (Task.all_day, Task.due_date < period.first),
        else_=Task.due < period.start,
    )


def _is_due(period: Period) -> Any:
    return case(
        (Task.all_day, and_(Task.due_date >= period.first, Task.due_date <= period.last)),
        else_=and_(Task.due >= period.start, Task.due < period.end),
    )


def _open_tasks_until_end(scope: Scope, user: User, period: Period) -> list[Any]:
    """Conditions of the user's open, visible tasks up to the period's end (index range)."""
    return [
        Task.assignee_id == user.id,
        Task.status == "open",
        Task.due < period.end + ZONE_SLACK,
        Task.card_trashed.is_(False),
        *_in_sight(scope),
    ]


def _in_sight(scope: Scope) -> list[Any]:
    """Tasks on cards the user may see (``access``'s one rule), as a list of WHERE conditions."""
    condition = scope.tasks_condition()
    return [] if condition is None else [condition]


def totals(session: Session, user: User, period: Period) -> dict[str, int]:
    scope = scope_of(session, user)
    overdue, due = session.execute(
        select(
            func.count().filter(_is_overdue(period)),
            func.count().filter(_is_due(period)),
        ).where(*_open_tasks_until_end(scope, user, period))
    ).one()
    closed = session.scalar(
        select(func.count()).where(
            Task.closed_by_id == user.id,
            Task.assignee_id == user.id,
            Task.status == "done",
            Task.closed_at >= period.start,
            Task.closed_at < period.end,
            Task.card_trashed.is_(False),
            *_in_sight(scope),
        )
    )
    postponed = session.scalar(
        select(func.count(func.distinct(Postponement.task_id)))
        .join(Task, Task.id == Postponement.task_id)
        .where(
            Postponement.assignee_id == user.id,
            Task.assignee_id == user.id,
            Postponement.at >= period.start,
            Postponement.at < period.end,
            Postponement.after >= period.end,
            Task.card_trashed.is_(False),
            *_in_sight(scope),
        )
    )
    return {
        "due": due or 0,
        "overdue": overdue or 0,
        "closed": closed or 0,
        "postponed": postponed or 0,
    }


def task_page(
    session: Session, user: User, period: Period, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Overdue tasks first, then those due in the period, each in deadline order."""
    overdue = _is_overdue(period)
    query = (
        select(Task, overdue.label("overdue"), Card.title, Product.name, Status.name, Status.group)
        .join(Card, Card.id == Task.card_id)
        .join(Product, Product.id == Task.product_id)
        .join(Status, Status.id == Card.status_id)
        .where(
            *_open_tasks_until_end(scope_of(session, user), user, period),
            or_(overdue, _is_due(period)),
        )
    )
    position = decode_cursor(cursor)
    if position is not None:
        try:
            after_due, after_id = datetime.fromisoformat(position["due"]), int(position["id"])
        except (KeyError, TypeError, ValueError) as error:
            raise Invalid({"cursor": ["Not a cursor this API gave out."]}) from error
        query = query.where(
            or_(Task.due > after_due, and_(Task.due == after_due, Task.id > after_id))
        )
    rows = session.execute(query.order_by(Task.due, Task.id).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1][0]
        next_cursor = encode_cursor({"due": last.due.isoformat(), "id": last.id})
    tasks = []
    for task, is_overdue, card_title, product_name, status_name, status_group in rows:
        item = task_json(task)
        item["card"] = {"id": task.card_id, "title": card_title}
        item["product"] = {"id": task.product_id, "name": product_name}
        item["card_status"] = {"name": status_name, "group": status_group}
        item["overdue"] = bool(is_overdue)
        tasks.append(item)
    # Overdue first: all-day tasks are stored at their local midnight, so the deadline order
    # already puts them there; a stable sort settles the rare zone-change exceptions.
    tasks.sort(key=lambda item: not item["overdue"])
    return tasks, next_cursor
