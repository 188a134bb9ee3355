"""Rules for tasks: add, edit, reassign, close, reopen, postpone, delete.

Every function locks the task's card first, changes the task, records history and events, and
recomputes the card's ``next_task_due``, all in one transaction.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from cardcrm.common import rawsql
from cardcrm.common.db import insert_loaded, write_transaction
from cardcrm.common.errors import Conflict, Invalid, NotFound, ensure_version
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import OUT_OF_CALENDAR, in_calendar, isoformat_z, utcnow
from cardcrm.common.translate import gettext as _
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload

from ..access import scope_of
from ..auth.models import User
from ..cards.history import record_history
from ..cards.models import Card
from ..cards.service import lock_live_card, refresh_next_task_due
from ..events import record_event
from ..products.task_types import product_task_types
from . import recurrence
from .models import Postponement, Task
from .schemas import task_json


def get_task(session: Session, task_id: int, viewer: User | None = None) -> Task:
    """The task; with ``viewer``, only if that user may see its card (else 404)."""
    task = session.get(Task, task_id)
    if task is None or task.card.trashed:
        raise NotFound(_("No task %(id)s.", id=task_id))
    if viewer is not None and not scope_of(session, viewer).sees_card(task.card):
        raise NotFound(_("No task %(id)s.", id=task_id))
    return task


def list_tasks(
    session: Session, card_id: int, status: str | None, after: tuple | None, limit: int
) -> list[Task]:
    statement, parameters = _card_tasks_call(card_id, status, after, limit)
    return list(session.scalars(select(Task).from_statement(statement), parameters))


def list_task_rows(
    session: Session, card_id: int, status: str | None, after: tuple | None, limit: int
) -> list[Any]:
    """``list_tasks``'s tasks as rows of the table's columns (what ``task_json`` reads): the
    API answers them as dicts, without making ORM objects only to dump them. The statements
    are built once (``_card_tasks``) and read on the driver's cursor (``rawsql``)."""
    statement, parameters = _card_tasks_call(card_id, status, after, limit)
    return rawsql.execute(session.connection(), statement, parameters)


def _card_tasks_call(
    card_id: int, status: str | None, after: tuple | None, limit: int
) -> tuple[Select[Any], dict[str, Any]]:
    parameters: dict[str, Any] = {"card_id": card_id, "limit": limit}
    if status:
        parameters["status"] = status
    if after is not None:
        parameters["after_due"], parameters["after_id"] = after
    return _card_tasks(bool(status), after is not None), parameters


@cache
def _card_tasks(by_status: bool, positioned: bool) -> Select[Any]:
    """A card's tasks by deadline (``by_status``: only those in ``status``), after the position
    (``after_due``, ``after_id``) when ``positioned``; up to ``limit``."""
    tasks = Task.__table__.c
    query = select(*tasks).where(tasks.card_id == bindparam("card_id"))
    if by_status:
        query = query.where(tasks.status == bindparam("status"))
    if positioned:
        due = bindparam("after_due", type_=tasks.due.type)
        task_id: Any = bindparam("after_id")
        query = query.where((tasks.due > due) | ((tasks.due == due) & (tasks.id > task_id)))
    return query.order_by(tasks.due, tasks.id).limit(bindparam("limit"))


def task_data(task: Task) -> dict[str, Any]:
    """``TaskSchema().dump(task)``, by ``task_json`` (tested equal): a task write builds it
    for its history, its event and its answer."""
    return task_json(task)


def create_task(session: Session, actor: User, card_id: int, data: dict[str, Any]) -> Task:
    with write_transaction(session):
        # Locked and read in one statement, with the product (``_task_type`` reads its types).
        card = lock_live_card(session, _CARD_AND_PRODUCT, {"card_id": card_id}, actor)
        if card is None:
            raise NotFound(_("No card %(id)s.", id=card_id))
        assignee = _assignee(session, data.get("assignee_id", actor.id))
        task = Task(
            card_id=card.id,
            product_id=card.product_id,
            text=data["text"],
            type=_task_type(card, data.get("type") or "todo"),
            assignee_id=assignee.id if assignee else None,
        )
        _set_due(task, data["due"], data.get("all_day", False), assignee)
        _set_repeat(task, data.get("repeat"), assignee)
        task = _insert(session, task)
        _changed(session, card, task, EventType.TASK_CREATED, actor, {"task": task_data(task)})
    return task


def update_task(
    session: Session, actor: User, task_id: int, changes: dict[str, Any], expected: set[int] | None
) -> Task:
    with write_transaction(session):
        task, card = _lock(session, task_id, actor)
        ensure_version(task.version, expected)
        before = task_data(task)
        # Loading the assignee or the card's task types must not autoflush the half-changed
        # task: each flush would bump its version, and one write is one version.
        with session.no_autoflush:
            if "text" in changes:
                task.text = changes["text"]
            if "type" in changes:
                task.type = _task_type(card, changes["type"])
            assignee = session.get(User, task.assignee_id) if task.assignee_id else None
            if "assignee_id" in changes and changes["assignee_id"] != task.assignee_id:
                assignee = _assignee(session, changes["assignee_id"])
                task.assignee_id = changes["assignee_id"]
            if "due" in changes or "all_day" in changes:
                current = task.due_date if task.all_day and task.due_date else task.due
                new_due = changes.get("due", current)
                _set_due(task, new_due, changes.get("all_day", task.all_day), assignee)
            if "repeat" in changes or ("due" in changes and task.repeat):
                # Editing the deadline of a recurring task moves the series with it.
                _set_repeat(task, changes.get("repeat", task.repeat), assignee)
        after = task_data(task)
        diff = {
            key: {"before": before[key], "after": after[key]}
            for key in ("text", "type", "assignee_id", "due", "due_date", "all_day", "repeat")
            if before[key] != after[key]
        }
        if not diff:
            return task
        task.updated_at = utcnow()
        session.flush()
        kind = "task.reassigned" if set(diff) == {"assignee_id"} else EventType.TASK_UPDATED
        _changed(session, card, task, kind, actor, {"changes": diff}, event=EventType.TASK_UPDATED)
    return task


def close_task(
    session: Session,
    actor: User,
    task_id: int,
    outcome: str,
    comment: str | None,
    expected: set[int] | None,
) -> Task:
    with write_transaction(session):
        task, card = _lock(session, task_id, actor)
        ensure_version(task.version, expected)
        if task.status != "open":
            raise Conflict(_("The task is already %(status)s.", status=task.status))
        task.status = outcome
        task.closed_at = task.updated_at = utcnow()
        task.closed_by_id = actor.id
        session.flush()
        data = {"outcome": outcome}
        if comment:
            data["comment"] = comment
        _changed(session, card, task, EventType.TASK_CLOSED, actor, data)
        if repeat := task.repeat:
            _create_next_occurrence(session, actor, card, task, repeat)
    return task


def reopen_task(session: Session, actor: User, task_id: int, expected: set[int] | None) -> Task:
    with write_transaction(session):
        task, card = _lock(session, task_id, actor)
        ensure_version(task.version, expected)
        if task.status == "open":
            raise Conflict(_("The task is already open."))
        previous = task.status
        task.status = "open"
        task.closed_at = task.closed_by_id = None
        task.updated_at = utcnow()
        session.flush()
        _changed(session, card, task, EventType.TASK_REOPENED, actor, {"before": previous})
        if task.repeat:
            _withdraw_next_occurrence(session, actor, card, task)
    return task


def postpone_task(
    session: Session, actor: User, task_id: int, due: date | datetime, expected: set[int] | None
) -> Task:
    with write_transaction(session):
        task, card = _lock(session, task_id, actor)
        ensure_version(task.version, expected)
        if task.status != "open":
            raise Conflict(
                _("Only open tasks are postponed; this one is %(status)s.", status=task.status)
            )
        old_due, old_date = task.due, task.due_date
        assignee = session.get(User, task.assignee_id) if task.assignee_id else None
        _set_due(task, due, task.all_day, assignee)
        if task.due <= old_due:
            task.due, task.due_date = old_due, old_date
            raise Invalid({"due": [_("The new deadline must be later than the current one.")]})
        task.postponed_count += 1
        task.updated_at = utcnow()
        session.add(
            Postponement(
                task_id=task.id,
                assignee_id=task.assignee_id,
                user_id=actor.id,
                at=task.updated_at,
                before=old_due,
                after=task.due,
            )
        )
        session.flush()
        before = {
            "due": isoformat_z(old_due),
            "due_date": old_date.isoformat() if old_date else None,
        }
        _changed(
            session,
            card,
            task,
            EventType.TASK_POSTPONED,
            actor,
            {"before": before, "after": {"due": isoformat_z(task.due)}},
        )
    return task


def delete_task(session: Session, actor: User, task_id: int, expected: set[int] | None) -> None:
    with write_transaction(session):
        task, card = _lock(session, task_id, actor)
        ensure_version(task.version, expected)
        data = task_data(task)
        session.delete(task)
        session.flush()
        record_history(
            session, card, EventType.TASK_DELETED, actor, {"task": data}, task_id=task_id
        )
        record_event(session, EventType.TASK_DELETED, data, actor=actor)
        refresh_next_task_due(session, card.id)


def record_sync_conflict(
    session: Session, actor: User | None, task_id: int, data: dict[str, Any]
) -> None:
    """Keep the losing side of a sync conflict (last change wins) in the task's history."""
    with write_transaction(session):
        task, card = _lock(session, task_id, actor)
        record_history(session, card, "task.sync_conflict", actor, data, task_id=task.id)


# --- recurrence -------------------------------------------------------------------------------


def _set_repeat(task: Task, repeat: dict[str, Any] | None, assignee: User | None) -> None:
    if not repeat:
        task.repeat = task.series_due = None
        return
    task.repeat = recurrence.anchor(repeat, task.due, assignee.timezone if assignee else "UTC")
    task.series_due = task.due


def _create_next_occurrence(
    session: Session, actor: User, card: Card, task: Task, repeat: dict[str, Any]
) -> Task | None:
    """Closing an occurrence of a series opens the next one, so one is always open (until
    the series runs past the calendar cardcrm keeps, where it ends)."""
    scheduled = task.series_due or task.due
    due = recurrence.next_occurrence(repeat, scheduled)
    if due is None:
        return None
    following = Task(
        card_id=card.id,
        product_id=task.product_id,
        text=task.text,
        type=task.type,
        assignee_id=task.assignee_id,
        repeat=task.repeat,
        series_id=task.series_id or task.id,
        series_due=due,
        all_day=task.all_day,
        due=due,
        due_date=due.date() if task.all_day else None,
    )
    following = _insert(session, following)
    data = {"task": task_data(following), "repeat_of": task.id}
    _changed(session, card, following, EventType.TASK_CREATED, actor, data)
    return following


def _withdraw_next_occurrence(session: Session, actor: User, card: Card, task: Task) -> None:
    """Reopening an occurrence withdraws the next one if nobody has touched it yet."""
    series = task.series_id or task.id
    following = session.scalar(
        select(Task).where(
            Task.series_id == series,
            Task.id != task.id,
            Task.status == "open",
            Task.series_due > (task.series_due or task.due),
            Task.version == 1,
        )
    )
    if following is None:
        return
    data = task_data(following)
    session.delete(following)
    session.flush()
    reason = {"task": data, "reason": f"occurrence {task.id} was reopened"}
    record_history(session, card, EventType.TASK_DELETED, actor, reason, task_id=data["id"])
    record_event(session, EventType.TASK_DELETED, data, actor=actor)
    refresh_next_task_due(session, card.id)


# --- helpers ----------------------------------------------------------------------------------


def _lock(session: Session, task_id: int, actor: User | None) -> tuple[Task, Card]:
    """The task and its card, the card's row locked; 404 if ``actor`` may not see them.

    The card is found by the task, locked and read in one statement (``lock_live_card``: a
    task never changes card, so the join holds once the lock is granted); the task is read
    after the lock, so it is its latest committed version. Only the card's row is locked by
    the statement: a card's lock is always taken before its tasks'."""
    try:
        card = lock_live_card(session, _CARD_OF_TASK, {"task_id": task_id}, actor)
    except NotFound as error:
        raise NotFound(_("No task %(id)s.", id=task_id)) from error
    task = session.get(Task, task_id, populate_existing=True) if card is not None else None
    if card is None or task is None:
        raise NotFound(_("No task %(id)s.", id=task_id))
    return task, card


#: ``create_task``'s card, with its product.
_CARD_AND_PRODUCT = (
    select(Card).where(Card.id == bindparam("card_id")).options(joinedload(Card.product))
)


def _insert(session: Session, new: Task) -> Task:
    """Insert ``new`` (a task made but not added) as one Core ``INSERT ... RETURNING``
    (``insert_loaded``). The ORM's flush of one new task (its unit of work, the card's
    relationship, the version counter) cost 8 % of a task creation's CPU more than this, in
    process on PostgreSQL (1,200 of each, alternated request by request)."""
    return insert_loaded(session, new)


#: ``_lock``'s card: the task's.
_CARD_OF_TASK = (
    select(Card).join(Task, Task.card_id == Card.id).where(Task.id == bindparam("task_id"))
)


def _changed(
    session: Session,
    card: Card,
    task: Task,
    kind: str,
    actor: User,
    history_data: dict[str, Any],
    event: EventType | None = None,
) -> None:
    positive = kind == EventType.TASK_CLOSED and task.status == "done"
    record_history(session, card, kind, actor, history_data, task_id=task.id, positive=positive)
    payload = task_data(task)
    if kind == EventType.TASK_POSTPONED:
        payload["before"] = history_data["before"]
    if "changes" in history_data:
        payload["changes"] = history_data["changes"]
    if "repeat_of" in history_data:  # the next occurrence of a series, not a new assignment
        payload["repeat_of"] = history_data["repeat_of"]
    refresh_next_task_due(session, card.id)
    record_event(session, event or EventType(kind), payload, actor=actor)


def _assignee(session: Session, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None:
        raise Invalid({"assignee_id": [_("No user %(id)s.", id=user_id)]})
    return user


def _task_type(card: Card, key: str) -> str:
    keys = [item["key"] for item in product_task_types(card.product)]
    if key not in keys:
        raise Invalid(
            {
                "type": [
                    _(
                        "Unknown task type %(key)s; this product has %(keys)s.",
                        key=repr(key),
                        keys=", ".join(keys),
                    )
                ]
            }
        )
    return key


def _set_due(task: Task, due: date | datetime, all_day: bool, assignee: User | None) -> None:
    """Set the deadline; an all-day task keeps its date and starts at midnight in its zone.

    A deadline the web UI computed ("+1 day") may fall past the calendar cardcrm keeps, where
    the schema never saw it: refused here as well."""
    if not in_calendar(due):
        raise Invalid({"due": [OUT_OF_CALENDAR]})
    if all_day:
        day = due if not isinstance(due, datetime) else due.date()
        zone = ZoneInfo(assignee.timezone if assignee else "UTC")
        task.all_day, task.due_date = True, day
        task.due = datetime.combine(day, time(), tzinfo=zone)
    else:
        if not isinstance(due, datetime):
            raise Invalid({"due": [_("A timed task needs a date-time with an offset.")]})
        task.all_day, task.due_date, task.due = False, None, due
