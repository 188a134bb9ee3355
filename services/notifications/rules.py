"""The rules that turn core events into notifications: who is a candidate for which event.

Reminders (``reminders``) and the daily digest (``digest``) are rules too, but they are
scheduled rather than triggered by one event. ``Recipients.decide`` then keeps the candidates
who switched the rule on and may see the card.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cardcrm.common.events import EventType
from sqlalchemy import select
from sqlalchemy.orm import Session

from .access import CardRef
from .known_cards import KnownCard
from .reminders.models import Reminder

Rule = Callable[[Session, dict[str, Any]], list[int]]
#: No user has this id.
UNKNOWN_OWNER = 0


def assigned(session: Session, event: dict[str, Any]) -> list[int]:
    """A task was assigned to me, by someone else (on creation or by a reassignment)."""
    kind, data, actor = event["type"], event["data"], event.get("actor_id")
    if kind == EventType.TASK_CREATED:
        assignee = data.get("assignee_id")
        if assignee is None or assignee == actor or _is_next_occurrence(session, data):
            return []
        return [assignee]
    if kind == EventType.TASK_UPDATED:
        change = (data.get("changes") or {}).get("assignee_id")
        if change and change.get("after") not in (None, actor):
            return [change["after"]]
    return []


def status_changed(session: Session, event: dict[str, Any]) -> list[int]:
    """A card I own changed status, by someone else's hand."""
    if event["type"] != EventType.CARD_STATUS_CHANGED:
        return []
    owner = event["data"].get("owner_id")
    return [] if owner is None or owner == event.get("actor_id") else [owner]


#: rule name → candidates; the names are the ``rule`` of notifications and deliveries
EVENT_RULES: dict[str, Rule] = {"assigned": assigned, "status_changed": status_changed}


def card_of(session: Session, event: dict[str, Any]) -> CardRef | None:
    """The card an event is about, as access rules need it (``None``: no card)."""
    kind, data = event["type"], event.get("data") or {}
    if kind.startswith("card."):
        return CardRef(data["id"], data["product_id"], data.get("owner_id"))
    if kind.startswith("task."):
        known = session.get(KnownCard, data["card_id"])
        # A card the feed never showed: taken as someone else's (out of "own cards" sight).
        owner = known.owner_id if known is not None else UNKNOWN_OWNER
        return CardRef(data["card_id"], data["product_id"], owner)
    return None


def _is_next_occurrence(session: Session, task: dict[str, Any]) -> bool:
    """Closing an occurrence of a recurring task opens the next one (``task.created``): that
    is no new assignment. Core says so with ``repeat_of`` when it does; otherwise a closed
    task of the same series (same card, same recurrence anchor) gives it away."""
    if task.get("repeat_of") is not None:
        return True
    if not task.get("repeat"):
        return False
    series = series_key(task)
    earlier = session.scalar(
        select(Reminder.task_id).where(
            Reminder.card_id == task["card_id"],
            Reminder.series == series,
            Reminder.task_id != task["id"],
            Reminder.task_status.in_(("done", "cancelled")),
        )
    )
    return earlier is not None


def series_key(task: dict[str, Any]) -> str | None:
    repeat = task.get("repeat")
    return json.dumps(repeat, sort_keys=True, separators=(",", ":")) if repeat else None
