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


def mentioned(session: Session, event: dict[str, Any]) -> list[int]:
    """Someone mentioned me in a note: every mention of a new note, and only the mentions an
    edit added (``new_mentions``), never the author nor whoever made the change. Core lists
    in ``mentions`` only users who may see the card; ``Recipients`` checks again."""
    kind, data = event["type"], event["data"]
    if kind == EventType.NOTE_CREATED:
        users = data.get("mentions") or []
    elif kind == EventType.NOTE_UPDATED:
        users = data.get("new_mentions") or []
    else:
        return []
    myself = {event.get("actor_id"), data.get("author_id")}
    return [user for user in users if _user_id(user) and user not in myself]


#: rule name → candidates; the names are the ``rule`` of notifications and deliveries
EVENT_RULES: dict[str, Rule] = {
    "assigned": assigned,
    "status_changed": status_changed,
    "mentioned": mentioned,
}


def card_of(session: Session, event: dict[str, Any]) -> CardRef | None:
    """The card an event is about, as access rules need it (``None``: no card)."""
    kind, data = event["type"], event.get("data") or {}
    if kind.startswith("card."):
        return CardRef(data["id"], data["product_id"], data.get("owner_id"))
    if kind.startswith("note.") and "owner_id" in data:
        # a note's event carries its card's owner as it was then
        return CardRef(data["card_id"], data["product_id"], data["owner_id"])
    if kind.startswith(("task.", "note.")):
        known = session.get(KnownCard, data["card_id"])
        # A card the feed never showed: taken as someone else's (out of "own cards" sight).
        owner = known.owner_id if known is not None else UNKNOWN_OWNER
        return CardRef(data["card_id"], data["product_id"], owner)
    return None


def _user_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


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
