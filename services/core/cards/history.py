"""Writing a card's history: one row per change of the card or of one of its tasks.

A write queues its rows (``record_history``) and they are inserted together just before its
transaction commits: added as ORM objects, each row was a unit-of-work flush of its own (0.7 ms
of a card edit's 10 ms of CPU, in process on PostgreSQL). On PostgreSQL a write that records
events (every write of a card or a task does) inserts its rows in the events' own statement
(``events.outbox``, which takes them with ``take_pending_json``): one round trip less per
write. Otherwise, and on SQLite, they go in one Core ``executemany`` of their own. Nothing
reads a card's history in the transaction that writes it; a transaction that rolls back drops
them.
"""

from __future__ import annotations

from typing import Any, cast

from cardcrm.common.bulk import json_rows, json_text
from cardcrm.common.timeutil import utcnow
from sqlalchemy import Table, event, insert
from sqlalchemy.orm import Session

from ..auth.models import User
from .models import Card, CardHistory

#: Where a session keeps the rows queued by its transaction.
PENDING = "pending_history"

_INSERT = insert(cast(Table, CardHistory.__table__))


def record_history(
    session: Session,
    card: Card,
    type: str,
    actor: User | None,
    data: dict[str, Any],
    task_id: int | None = None,
    positive: bool = False,
) -> None:
    """Queue a history row of ``card`` (which has its id), written when the transaction
    commits."""
    session.info.setdefault(PENDING, []).append(
        {
            "card_id": card.id,
            "task_id": task_id,
            "type": type,
            "user_id": actor.id if actor else None,
            "data": data,
            "at": utcnow(),
            "positive": positive,
        }
    )


def take_pending_json(session: Session) -> str:
    """The rows queued in ``session``'s transaction, taken off its queue, as ``json_rows``
    text: ``card_id``, ``task_id``, ``type``, ``at`` (ISO 8601), ``user_id``, ``positive``,
    then ``data`` as ``json.dumps`` writes it (the text the JSON column stores), the order
    ``events.outbox._INSERT_EVENTS`` reads them in; ``"[]"`` when there are none."""
    rows = session.info.pop(PENDING, None) or ()
    return json_rows(
        (
            (
                row["card_id"],
                row["task_id"],
                row["type"],
                row["at"].isoformat(),
                row["user_id"],
                row["positive"],
            ),
            json_text(row["data"]),
        )
        for row in rows
    )


# Every session's, not one factory's: a row queued by any session (a request's, a worker's, a
# command's) is written by the commit of its transaction, or dropped with its rollback.
@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    rows = session.info.pop(PENDING, None)
    if rows:
        session.flush()  # the cards (and tasks) the rows tell of go first
        session.connection().execute(_INSERT, rows)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: Any) -> None:
    session.info.pop(PENDING, None)
