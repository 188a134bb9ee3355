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
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from cardcrm.common import rawsql
from cardcrm.common.db import UTCDateTime
from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.timeutil import OUT_OF_CALENDAR, in_calendar, isoformat_z, utcnow
from cardcrm.common.translate import gettext as _
from flask import current_app, has_app_context
from sqlalchemy import (
    Date,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from ..access import tasks_in_sight, tasks_in_sight_parts
from ..auth.models import User
from ..cards.models import Card
from ..products.models import Product, Status
from .models import Postponement, Task
from .schemas import TaskSchema

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

    def is_overdue(self, task: Any) -> bool:
        """Whether an open task's deadline has passed (the rule ``_is_overdue`` puts in SQL)."""
        if task.all_day and task.due_date is not None:
            return task.due_date < self.today
        return task.due < self.now

    def is_after(self, task: Any) -> bool:
        """Whether the task's deadline lies after the period (a ``Task`` or a row of one)."""
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


# --- the statements ---------------------------------------------------------------------------
# Every statement is built once (per list, cursor or not, and what the user may see) with bind
# parameters for the user and the period, and kept: a request only binds values. The same
# statement object keeps its SQL cache key, so SQLAlchemy neither rebuilds nor re-hashes the
# expression per request (the issue measured 12 % of Today's time doing that). Rows are read as
# plain tuples on the session's connection: no ORM objects, identity map or version tracking.

TASKS = Task.__table__.c
#: The task's columns in ``TaskSchema``'s order: ``_item`` builds its dump from them.
TASK_FIELDS: tuple[str, ...] = tuple(TaskSchema().fields)
_TASK_COLUMNS = tuple(TASKS[name] for name in TASK_FIELDS)
_DUE, _ALL_DAY, _DUE_DATE, _STATUS = (
    TASK_FIELDS.index(name) for name in ("due", "all_day", "due_date", "status")
)
_ID = TASK_FIELDS.index("id")
_INSTANTS = tuple(
    TASK_FIELDS.index(name) for name in ("due", "closed_at", "created_at", "updated_at")
)

_USER = bindparam("user_id", type_=Integer())
_NOW = bindparam("now", type_=UTCDateTime())
_TODAY = bindparam("today", type_=Date())
_FIRST = bindparam("first", type_=Date())
_LAST = bindparam("last", type_=Date())
_START = bindparam("start", type_=UTCDateTime())
_END = bindparam("end", type_=UTCDateTime())
_REACH = bindparam("reach", type_=UTCDateTime())
_LOW = bindparam("low", type_=UTCDateTime())
_LIMIT = bindparam("limit", type_=Integer())
_AFTER_RANK = bindparam("after_rank", type_=Integer())
_AFTER_DUE = bindparam("after_due", type_=UTCDateTime())
_AFTER_ID = bindparam("after_id", type_=Integer())

#: Statements kept: per list, cursor or not, and whether the user sees everything (an admin).
STATEMENTS_KEPT = 32


def _is_overdue() -> Any:
    """An open task's deadline has passed: an all-day task once its day has ended."""
    return case((TASKS.all_day, TASKS.due_date < _TODAY), else_=TASKS.due < _NOW)


def _is_due() -> Any:
    """An open task's deadline lies in the period and has not passed."""
    return case(
        (
            TASKS.all_day,
            and_(TASKS.due_date >= _FIRST, TASKS.due_date <= _LAST, TASKS.due_date >= _TODAY),
        ),
        else_=and_(TASKS.due >= _START, TASKS.due < _END, TASKS.due >= _NOW),
    )


def _in_sight(everything: bool) -> list[Any]:
    """Tasks on cards the user may see (``access``'s one rule), as a list of WHERE conditions.

    The user's memberships are a subquery of the statement: no ``scope_of`` query first.
    """
    return [] if everything else [tasks_in_sight(_USER)]


def _open_tasks_in_reach(everything: bool) -> list[Any]:
    """Conditions of the user's open, visible tasks that can be overdue or due (index range).

    ``reach`` is ``max(end, now)`` plus ``ZONE_SLACK``: an all-day task is stored at its local
    midnight, which may lie a day away from the same date in the user's zone.
    """
    return [
        TASKS.assignee_id == _USER,
        TASKS.status == "open",
        TASKS.due < _REACH,
        TASKS.card_trashed.is_(False),
        *_in_sight(everything),
    ]


def _closed(everything: bool) -> list[Any]:
    """Conditions of the tasks the user closed as done inside the period."""
    return [
        TASKS.closed_by_id == _USER,
        TASKS.assignee_id == _USER,
        TASKS.status == "done",
        TASKS.closed_at >= _START,
        TASKS.closed_at < _END,
        TASKS.card_trashed.is_(False),
        *_in_sight(everything),
    ]


def _postponed(everything: bool) -> list[Any]:
    """Conditions of the tasks the user postponed inside the period past its end."""
    postponements = Postponement.__table__.c
    postponed_ids = select(postponements.task_id).where(
        postponements.assignee_id == _USER,
        postponements.at >= _START,
        postponements.at < _END,
        postponements.after >= _END,
    )
    return [
        TASKS.id.in_(postponed_ids),
        TASKS.assignee_id == _USER,
        TASKS.card_trashed.is_(False),
        *_in_sight(everything),
    ]


@lru_cache(maxsize=STATEMENTS_KEPT)
def totals_statement(everything: bool) -> Select[Any]:
    """The four totals in one statement: the open tasks counted once, closed and postponed as
    scalar subqueries; each part still ranges over its own index."""

    def open_tasks(*in_sight: Any) -> Any:
        return select(
            func.count().filter(_is_overdue()).label("overdue"),
            func.count().filter(_is_due()).label("due"),
        ).where(*_open_tasks_in_reach(True), *in_sight)

    if everything:
        counted = open_tasks().subquery("open_tasks")
        due, overdue = counted.c.due, counted.c.overdue
    else:
        # Counted apart, so the whole products' count stays an index-only scan.
        whole, limited = (
            open_tasks(part).subquery(name)
            for part, name in zip(tasks_in_sight_parts(_USER), ("whole", "limited"), strict=True)
        )
        due, overdue = whole.c.due + limited.c.due, whole.c.overdue + limited.c.overdue
        counted = whole.join(limited, true())  # one row each
    closed = select(func.count()).where(*_closed(everything)).scalar_subquery()
    postponed = select(func.count()).where(*_postponed(everything)).scalar_subquery()
    # The next deadline still to pass (any open task of the user's: one index probe): until
    # then, and until the user's midnight, the view's answer is the same (``holds_until``).
    next_deadline = (
        select(func.min(TASKS.due))
        .where(TASKS.assignee_id == _USER, TASKS.status == "open", TASKS.due >= _NOW)
        .scalar_subquery()
    )
    return select(
        due.label("due"),
        overdue.label("overdue"),
        closed.label("closed"),
        postponed.label("postponed"),
        next_deadline.label("next_deadline"),
    ).select_from(counted)


@lru_cache(maxsize=STATEMENTS_KEPT)
def page_statement(everything: bool, show: str, after_cursor: bool, dialect: str) -> Select[Any]:
    """One of the lists, in deadline order (the usual one overdue first), ``limit`` rows."""
    overdue = _is_overdue()
    cards, products, statuses = Card.__table__.c, Product.__table__.c, Status.__table__.c
    columns = (
        *_TASK_COLUMNS,
        overdue.label("overdue"),
        cards.title,
        products.name,
        statuses.name,
        statuses.group,
    )
    if show == "tasks":
        page = _ranked_page(everything, after_cursor, cut=dialect == "postgresql")
        return (
            select(*columns)
            .select_from(page)
            .join(Task.__table__, TASKS.id == page.c.id)
            .join(Card.__table__, cards.id == TASKS.card_id)
            .join(Product.__table__, products.id == TASKS.product_id)
            .join(Status.__table__, statuses.id == cards.status_id)
            .order_by(page.c.rank, page.c.due, page.c.id)
            .limit(_LIMIT)
        )
    if show == "closed":
        conditions = _closed(everything)
    elif show == "postponed":
        conditions = _postponed(everything)
    elif show == "due":
        conditions = [*_open_tasks_in_reach(everything), _is_due(), TASKS.due >= _LOW]
    else:
        conditions = [*_open_tasks_in_reach(everything), overdue]
    query = (
        select(*columns)
        .select_from(Task.__table__)
        .join(Card.__table__, cards.id == TASKS.card_id)
        .join(Product.__table__, products.id == TASKS.product_id)
        .join(Status.__table__, statuses.id == cards.status_id)
        .where(*conditions)
    )
    if after_cursor:
        query = query.where(_after_cursor(literal(0)))
    return query.order_by(TASKS.due, TASKS.id).limit(_LIMIT)


def _ranked_page(everything: bool, after_cursor: bool, cut: bool) -> Any:
    """The usual list's ids: the first ``limit`` overdue (rank 0), then the first ``limit`` due
    (rank 1), each read in the order of the index on ``(assignee_id, status, due, id)``.

    One ``ORDER BY rank, due, id`` over all the open tasks in reach sorted thousands of rows
    (a user with 3,000 overdue tasks) to keep 51; two ordered reads stop after ``limit`` each.
    The due tasks start at ``low`` (the earliest instant an all-day task of the period's first
    day still to come may be stored at), so the overdue ones before it are not even read.
    With ``cut`` (PostgreSQL) the two are cut to ``limit`` in that order before the page's rows
    are joined: joined first, each page read twice the rows of tasks, cards, products and
    statuses it shows (the statement took 2.58 ms, cut 1.91). SQLite's joins of those rows
    cost less than the cut's own sort: there it took 0.76 ms, and cut 0.85.
    """
    overdue = _is_overdue()
    parts = []
    for rank, condition in ((0, overdue), (1, and_(_is_due(), not_(overdue), TASKS.due >= _LOW))):
        value = literal_column(str(rank), Integer())
        part = select(TASKS.id.label("id"), TASKS.due.label("due"), value.label("rank")).where(
            *_open_tasks_in_reach(everything), condition
        )
        if after_cursor:
            part = part.where(_after_cursor(value))
        ordered = part.order_by(TASKS.due, TASKS.id).limit(_LIMIT).subquery(f"rank_{rank}")
        parts.append(select(ordered.c.id, ordered.c.due, ordered.c.rank))
    if not cut:
        return union_all(*parts).subquery("page")
    both = union_all(*parts).subquery("ranked")
    first = select(both.c.id, both.c.due, both.c.rank)
    return first.order_by(both.c.rank, both.c.due, both.c.id).limit(_LIMIT).subquery("page")


def _after_cursor(rank: Any) -> Any:
    """After the cursor's task in ``ORDER BY rank, due, id``."""
    return or_(
        rank > _AFTER_RANK,
        and_(
            rank == _AFTER_RANK,
            or_(TASKS.due > _AFTER_DUE, and_(TASKS.due == _AFTER_DUE, TASKS.id > _AFTER_ID)),
        ),
    )


def _sees_everything(user: User) -> bool:
    """What the statements depend on of the user's scope (``access.scope_of``'s first rule)."""
    return bool(user.is_admin)


def _parameters(user: User, period: Period) -> dict[str, Any]:
    return {
        "user_id": user.id,
        "now": period.now,
        "today": period.today,
        "first": period.first,
        "last": period.last,
        "start": period.start,
        "end": period.end,
        "reach": max(period.end, period.now) + ZONE_SLACK,
        # No task still due in the period is stored before: all-day tasks lie within
        # ZONE_SLACK of their date's midnight here, timed ones after now and the start.
        "low": datetime.combine(max(period.first, period.today), time(), tzinfo=period.zone)
        - ZONE_SLACK,
    }


# --- the view's parts -------------------------------------------------------------------------


def totals(session: Session, user: User, period: Period) -> dict[str, int]:
    return totals_and_end(session, user, period)[0]


def totals_and_end(session: Session, user: User, period: Period) -> tuple[dict[str, int], datetime]:
    """The four totals, and the instant until which the view stays as it is unless the data
    changes: the next deadline of an open task of the user's still to pass (a passing
    deadline makes a due task overdue) or the user's next midnight (another day), whichever
    comes first. ``answers.py`` keeps the view's answer until then."""
    statement = totals_statement(_sees_everything(user))
    due, overdue, closed, postponed, next_deadline = rawsql.first(
        session.connection(), statement, _parameters(user, period)
    )
    counts = {
        "due": due or 0,
        "overdue": overdue or 0,
        "closed": closed or 0,
        "postponed": postponed or 0,
    }
    midnight = datetime.combine(period.today + timedelta(days=1), time(), tzinfo=period.zone)
    return counts, min(midnight, next_deadline) if next_deadline is not None else midnight


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
    (the deadline lies after the period: a postponed task) for the web page. Each task is
    ``TaskSchema``'s dump with its card, product, card status and ``overdue``.
    """
    if show not in SHOWS:
        raise Invalid({"show": [_("One of: %(choices)s.", choices=", ".join(SHOWS))]})
    parameters = _parameters(user, period)
    parameters["limit"] = limit + 1
    position = decode_cursor(cursor)
    if position is not None:
        try:
            parameters["after_rank"] = int(position.get("rank", 0))
            parameters["after_due"] = datetime.fromisoformat(position["due"])
            parameters["after_id"] = int(position["id"])
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise Invalid({"cursor": [_("Not a cursor this API gave out.")]}) from error
    connection = session.connection()
    statement = page_statement(
        _sees_everything(user), show, position is not None, connection.dialect.name
    )
    rows = rawsql.execute(connection, statement, parameters)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        last_rank = 0 if show != "tasks" or last.overdue else 1
        next_cursor = encode_cursor(
            {"rank": last_rank, "due": last[_DUE].isoformat(), "id": last[_ID]}
        )
    tasks = []
    for row in rows:
        item = _item(row)
        if mark_after:
            item["after_period"] = period.is_after(row)
        tasks.append(item)
    return tasks, next_cursor


def _item(row: Any) -> dict[str, Any]:
    """A row of ``page_statement`` as the view answers it: ``TaskSchema``'s dump and context.

    ``tests/core/test_today_fast.py`` keeps it equal, byte for byte in JSON, to ``TaskSchema``'s
    dump of the same task.
    """
    values = list(row)
    for index in _INSTANTS:
        values[index] = isoformat_z(values[index])
    due_date = values[_DUE_DATE]
    if due_date is not None:
        values[_DUE_DATE] = due_date.isoformat()
    item = dict(zip(TASK_FIELDS, values, strict=False))
    card_title, product_name, status_name, status_group = values[-4:]
    item["card"] = {"id": item["card_id"], "title": card_title}
    item["product"] = {"id": item["product_id"], "name": product_name}
    item["card_status"] = {"name": status_name, "group": status_group}
    item["overdue"] = bool(values[-5]) and item["status"] == "open"
    return item
