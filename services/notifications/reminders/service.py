"""Scheduling reminders from the feed, and sending the ones that are due.

Each task event updates the task's row (deadline, assignee, state) and its ``remind_at``:
the deadline minus the assignee's ``due_reminder_minutes``. A postponement or a deadline edit
moves it; closing, deleting or trashing clears it. ``send_due_reminders`` picks rows whose
moment has come (also those that passed while the service was down), checks with core that
the task is still open with that deadline, and records one notification per deadline.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cardcrm.common.events import TASK_SNAPSHOTS, EventType
from cardcrm.common.timeutil import isoformat_z
from cardcrm.sidecar.core_client import CoreClient, CoreError, CoreUnavailable
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..config import setting
from ..deliveries.service import notify
from ..preferences.lookup import preferences_row
from ..recipients import Recipients
from ..rules import series_key
from .models import Reminder

if TYPE_CHECKING:
    from ..context import NotificationsContext

log = logging.getLogger(__name__)

_UNSET: Any = object()


def track(session: Session, event: dict[str, Any]) -> None:
    """Bring the reminder rows up to date with ``event``."""
    with session.no_autoflush:  # one INSERT or UPDATE per row, with its reminder time
        _track(session, event)
    session.flush()  # so that the next event of a batch finds the row


def _track(session: Session, event: dict[str, Any]) -> None:
    kind, data = event["type"], event["data"]
    if kind in TASK_SNAPSHOTS:
        values = {  # read first: an event missing a field changes nothing
            "card_id": data["card_id"],
            "product_id": data["product_id"],
            "assignee_id": data.get("assignee_id"),
            "text": str(data.get("text") or ""),
            "due": parse_instant(data["due"]),
            "all_day": bool(data.get("all_day")),
            "task_status": data.get("status") or "open",
            "series": series_key(data),
            "updated_at": parse_instant(event["at"]),
        }
        row = session.get(Reminder, data["id"])
        if row is None:
            row = Reminder(task_id=data["id"], card_trashed=False)
            session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        schedule(session, row)
    elif kind == EventType.TASK_DELETED:
        row = session.get(Reminder, data["id"])
        if row is not None:
            row.task_status, row.remind_at = "deleted", None
    elif kind == EventType.CARD_DELETED:
        session.execute(
            update(Reminder)
            .where(Reminder.card_id == data["id"])
            .values(card_trashed=True, remind_at=None)
        )
    elif kind == EventType.CARD_RESTORED:
        rows = session.scalars(select(Reminder).where(Reminder.card_id == data["id"]))
        for row in rows:
            row.card_trashed = False
            schedule(session, row)
    elif kind == EventType.CARD_PURGED:
        session.execute(delete(Reminder).where(Reminder.card_id == data["id"]))
    elif kind == EventType.PRODUCT_DELETED:
        session.execute(delete(Reminder).where(Reminder.product_id == data["id"]))


def schedule(session: Session, row: Reminder, minutes: int | None = _UNSET) -> None:
    """Set ``row.remind_at`` from its state and the assignee's preference."""
    if minutes is _UNSET:
        minutes = _minutes_of(session, row.assignee_id)
    if (
        row.task_status != "open"
        or row.card_trashed
        or row.assignee_id is None
        or minutes is None
        or (row.reminded_due == row.due and row.reminded_user_id == row.assignee_id)
    ):
        row.remind_at = None
    else:
        row.remind_at = row.due - timedelta(minutes=minutes)


def reschedule_user(session: Session, user_id: int, minutes: int | None, now: datetime) -> None:
    """The user changed ``due_reminder_minutes``: move the reminders of their open tasks."""
    rows = session.scalars(
        select(Reminder).where(Reminder.assignee_id == user_id, Reminder.task_status == "open")
    )
    for row in rows:
        schedule(session, row, minutes)


def send_due_reminders(
    context: NotificationsContext, client: CoreClient, now: datetime, limit: int = 100
) -> int:
    """Record a notification for each reminder whose moment has come; how many were recorded.

    Stops early (to try again at the next step) when core cannot be reached: a reminder is only
    sent once core confirms the task is still open with the same deadline.
    """
    grace = timedelta(seconds=float(setting(context.settings, "REMINDER_GRACE_SECONDS")))
    with context.db.sessions() as session:
        due = list(
            session.scalars(
                select(Reminder)
                .where(Reminder.remind_at <= now)
                .order_by(Reminder.remind_at, Reminder.task_id)
                .limit(limit)
            )
        )
    sent = 0
    for planned in due:
        task = None
        if planned.due + grace >= now:
            try:
                task = _current_task(client, planned)
            except CoreUnavailable as error:
                log.warning("reminders wait for core: %s", error)
                break
        with context.db.writer.begin() as session:
            row = session.get(Reminder, planned.task_id)
            if row is None or row.remind_at != planned.remind_at or row.due != planned.due:
                continue  # the feed moved it meanwhile
            if planned.due + grace < now:
                log.info("reminder of task %s skipped: its deadline is long past", row.task_id)
                row.remind_at = None
                continue
            if task is None or task.get("status") != "open":
                # Closed, deleted or on a trashed card: the feed brings the event that says
                # which (and a restore schedules it again).
                row.remind_at = None
                continue
            if parse_instant(task["due"]) != row.due or task.get("assignee_id") != row.assignee_id:
                # The feed has not caught up with a change yet: schedule from what core says.
                row.due = parse_instant(task["due"])
                row.assignee_id = task.get("assignee_id")
                schedule(session, row)
                if row.remind_at is None or row.remind_at > now:
                    continue
            sent += _remind(context, client, session, row, task, now)
    return sent


def _remind(
    context: NotificationsContext,
    client: CoreClient,
    session: Session,
    row: Reminder,
    task: dict[str, Any],
    now: datetime,
) -> int:
    recorded = 0
    # No card for access here: core just showed the task to the assignee (acting for them).
    recipients = Recipients(context.box, client)
    for preferences in recipients.decide(session, "due_reminder", [row.assignee_id]):
        due = isoformat_z(row.due)
        minutes = preferences.due_reminder_minutes
        event = {
            "id": f"reminder-{row.task_id}-{int(row.due.timestamp())}",
            "type": "task.due_soon",
            "at": isoformat_z(row.remind_at),
            "actor_id": None,
            "data": {**task, "minutes": minutes},
            "rule": "due_reminder",
        }
        created = notify(
            session,
            context.channels,
            preferences,
            rule="due_reminder",
            key=f"reminder:{row.task_id}:{due}",
            type="task.due_soon",
            at=row.remind_at or now,
            payload=event,
            card_id=row.card_id,
            now=now,
        )
        recorded += created is not None
    row.reminded_due, row.reminded_user_id = row.due, row.assignee_id
    row.remind_at = None
    return recorded


def _current_task(client: CoreClient, row: Reminder) -> dict[str, Any] | None:
    """The task as its assignee sees it now; ``None`` when it is gone (deleted, or its card
    trashed), core refuses to show it, or it has no assignee to ask for."""
    if row.assignee_id is None:
        return None
    try:
        return client.get_task(row.task_id, row.assignee_id)
    except CoreUnavailable:
        raise
    except CoreError as error:
        if error.status not in (401, 403, 404):
            log.error("cannot check task %s for its reminder: %s", row.task_id, error)
        return None


def _minutes_of(session: Session, user_id: int | None) -> int | None:
    row = preferences_row(session, user_id) if user_id is not None else None
    return row.due_reminder_minutes if row is not None else None


def parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
