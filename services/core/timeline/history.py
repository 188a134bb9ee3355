"""The timeline's ``task`` and ``history`` kinds, both read from the card's history.

A row about a task (it has a ``task_id``) is a ``task`` item: the task as it is now, or
``{"id", "deleted": true}`` once it is gone, with the change the row records. The card's other
rows are ``history`` items, except those that a note, a file or an e-mail stands for in the
timeline itself (``note.created``, ``file.added``, ``email.received``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cards.models import Card, CardHistory
from ..cards.schemas import HistorySchema
from ..tasks.models import Task
from ..tasks.schemas import task_json
from . import Entry, Position, after_position, source

#: History rows that the timeline shows as their own kind's item instead.
SHOWN_BY_THEIR_OWN_KIND = ("note.created", "file.added", "email.received")


def _rows(
    session: Session, card: Card, kind: str, before: Position | None, limit: int, *conditions: Any
) -> list[CardHistory]:
    query = (
        select(CardHistory)
        .where(
            CardHistory.card_id == card.id,
            *conditions,
            after_position(kind, CardHistory.at, CardHistory.id, before),
        )
        .order_by(CardHistory.at.desc(), CardHistory.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


@source("task")
def task_entries(session: Session, card: Card, before: Position | None, limit: int) -> list[Entry]:
    rows = _rows(session, card, "task", before, limit, CardHistory.task_id.is_not(None))
    wanted = {row.task_id for row in rows}
    tasks = (
        {
            task.id: task_json(task)
            for task in session.scalars(select(Task).where(Task.id.in_(wanted)))
        }
        if wanted
        else {}
    )
    entries = []
    for row in rows:
        task = dict(tasks.get(row.task_id or 0) or {"id": row.task_id, "deleted": True})
        task["change"] = {
            "history_id": row.id,
            "type": row.type,
            "user_id": row.user_id,
            "data": row.data or {},
        }
        entries.append(Entry("task", row.at, row.id, task))
    return entries


@source("history")
def history_entries(
    session: Session, card: Card, before: Position | None, limit: int
) -> list[Entry]:
    rows = _rows(
        session,
        card,
        "history",
        before,
        limit,
        CardHistory.task_id.is_(None),
        CardHistory.type.not_in(SHOWN_BY_THEIR_OWN_KIND),
    )
    schema = HistorySchema()
    return [Entry("history", row.at, row.id, schema.dump(row)) for row in rows]
