"""The history and event rows of the generated data: every change, in the order it happened.

Each change (card created, moved to another status, trashed; task created, postponed, closed)
gets the ``card_history`` row ``record_history`` writes and the ``events`` row the outbox
writes, with the same payloads as ``cards.service.card_data`` and ``tasks.service.task_data``
(``generate`` compares samples with the real schemas). Ids follow the time order, as commits
would have given them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from cardcrm.common.timeutil import isoformat_z as _isoformat_z
from cardcrm.core.events.outbox import new_uid
from cardcrm.core.mail.address import address_of
from cardcrm.core.products.models import CLOSED_GROUPS

from .dataset import Dataset, Move

# Change kinds, in the order they happen when two share an instant.
CARD_CREATED, CARD_MOVED, TASK_CREATED, TASK_POSTPONED, TASK_CLOSED, CARD_TRASHED = range(6)


class Changes:
    """Every change of ``data`` in time order, and the rows each one leaves."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        order: list[tuple[datetime, int, int]] = []
        for index, card in enumerate(data.cards):
            order.append((card["created_at"], CARD_CREATED, index))
            if card["trashed_at"] is not None:
                order.append((card["trashed_at"], CARD_TRASHED, index))
        for number, move in enumerate(data.moves):
            order.append((move.at, CARD_MOVED, number))
        for index, task in enumerate(data.tasks):
            order.append((task["created_at"], TASK_CREATED, index))
            if task["closed_at"] is not None:
                order.append((task["closed_at"], TASK_CLOSED, index))
            elif task["postponed_count"]:
                order.append((task["updated_at"], TASK_POSTPONED, index))
        order.sort()
        self.order = order
        # task.created payloads made for the history, used once more for the events
        self._created_payloads: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.order)

    def history_rows(self) -> Iterator[dict[str, Any]]:
        """The ``card_history`` rows, oldest first."""
        data = self.data
        cards, tasks = data.cards, data.tasks
        for number, (at, kind, index) in enumerate(self.order, start=1):
            row = {"id": number, "task_id": None, "at": at, "positive": False}
            if kind == CARD_CREATED:
                payload = {"card": card_data(data, index, created=True)}
                row.update(card_id=index + 1, type="card.created", data=payload)
                row["user_id"] = _card_actor(cards[index])
            elif kind == CARD_MOVED:
                move = data.moves[index]
                before, after = data.statuses[move.before], data.statuses[move.after]
                row.update(card_id=move.card + 1, type="card.status_changed")
                row.update(
                    user_id=_card_actor(cards[move.card]), data={"from": before, "to": after}
                )
                row["positive"] = after["group"] == "positive"
            elif kind == CARD_TRASHED:
                row.update(card_id=index + 1, type="card.trashed", data={})
                row["user_id"] = _card_actor(cards[index])
            else:
                task = tasks[index]
                row.update(card_id=task["card_id"], task_id=task["id"])
                if kind == TASK_CREATED:
                    payload = task_data(data, index, created=True)
                    self._created_payloads[index] = payload
                    row.update(type="task.created", data={"task": payload})
                    row["user_id"] = data.task_creators[index]
                elif kind == TASK_CLOSED:
                    row.update(type="task.closed", data={"outcome": task["status"]})
                    row["user_id"] = task["closed_by_id"]
                    # The Wall of Progress counts tasks closed as done.
                    row["positive"] = task["status"] == "done"
                else:
                    before, after = _postponed(data, index)
                    row.update(type="task.postponed", data={"before": before, "after": after})
                    row["user_id"] = task["assignee_id"]
            yield row

    def event_rows(self, first_id: int) -> Iterator[dict[str, Any]]:
        """The outbox rows of the same changes, in commit order, numbered from ``first_id``."""
        data = self.data
        cards, tasks = data.cards, data.tasks
        for number, (at, kind, index) in enumerate(self.order, start=first_id):
            if kind == CARD_CREATED:
                name, actor = "card.created", _card_actor(cards[index])
                payload = card_data(data, index, created=True)
            elif kind == CARD_MOVED:
                move = data.moves[index]
                name, actor = "card.status_changed", _card_actor(cards[move.card])
                before = data.statuses[move.before]
                payload = {
                    **moved_card_data(data, move),
                    "before": {"status_id": before["id"], "status_group": before["group"]},
                }
            elif kind == CARD_TRASHED:
                name, actor = "card.deleted", _card_actor(cards[index])
                payload = card_data(data, index)
            elif kind == TASK_CREATED:
                name, actor = "task.created", data.task_creators[index]
                payload = self._created_payloads.pop(index, None) or task_data(
                    data, index, created=True
                )
            elif kind == TASK_CLOSED:
                name, actor = "task.closed", tasks[index]["closed_by_id"]
                payload = task_data(data, index)
            else:
                name, actor = "task.postponed", tasks[index]["assignee_id"]
                payload = {**task_data(data, index), "before": _postponed(data, index)[0]}
            yield {
                "id": number,
                "uid": new_uid(),
                "type": name,
                "at": at,
                "actor_id": actor,
                "data": payload,
            }


# --- payloads ---------------------------------------------------------------------------------


def card_data(data: Dataset, index: int, *, created: bool = False) -> dict[str, Any]:
    """What ``cards.service.card_data`` gives for a card: at its creation, or as it is now."""
    card = data.cards[index]
    status = card["status_id"]
    if created:
        status = data.created_status.get(index, status)
    group = data.statuses[status]["group"]
    return {
        "id": card["id"],
        "product_id": card["product_id"],
        "status_id": status,
        "status_group": group,
        "title": card["title"],
        "owner_id": card["owner_id"],
        "email_address": address_of(card["id"], card["email_secret"]),
        "fields": card["fields"],
        "next_task_due": None if created else isoformat_z(card["next_task_due"]),
        "closed": group in CLOSED_GROUPS,
        "trashed": False if created else card["trashed_at"] is not None,
        "created_at": isoformat_z(card["created_at"]),
        "updated_at": isoformat_z(card["created_at"] if created else card["updated_at"]),
        "version": 1 if created else card["version"],
    }


def moved_card_data(data: Dataset, move: Move) -> dict[str, Any]:
    """``card_data`` of a card right after it moved."""
    payload = card_data(data, move.card)
    group = data.statuses[move.after]["group"]
    payload.update(
        status_id=move.after,
        status_group=group,
        next_task_due=isoformat_z(move.next_task_due),
        closed=group in CLOSED_GROUPS,
        trashed=False,
        updated_at=isoformat_z(move.at),
        version=move.version,
    )
    return payload


def task_data(data: Dataset, index: int, *, created: bool = False) -> dict[str, Any]:
    """What ``tasks.service.task_data`` gives for a task: at its creation, or as it is now."""
    task = data.tasks[index]
    due = data.original_due.get(index, task["due"]) if created else task["due"]
    return {
        "id": task["id"],
        "card_id": task["card_id"],
        "product_id": task["product_id"],
        "text": task["text"],
        "type": task["type"],
        "assignee_id": task["assignee_id"],
        "due": isoformat_z(due),
        "due_date": task["due_date"].isoformat() if task["due_date"] else None,
        "all_day": task["all_day"],
        "status": "open" if created else task["status"],
        "closed_at": None if created else isoformat_z(task["closed_at"]),
        "closed_by_id": None if created else task["closed_by_id"],
        "postponed_count": 0 if created else task["postponed_count"],
        "repeat": task["repeat"],
        "created_at": isoformat_z(task["created_at"]),
        "updated_at": isoformat_z(task["created_at"] if created else task["updated_at"]),
        "version": 1 if created else task["version"],
    }


def isoformat_z(value: datetime | None) -> str | None:
    """``timeutil.isoformat_z``, quicker for the UTC instants made here."""
    if value is not None and value.tzinfo is UTC:
        return value.isoformat()[:-6] + "Z"
    return _isoformat_z(value)


def _card_actor(card: dict[str, Any]) -> int:
    """Who created, moved or trashed a card: its owner, or the admin for cards without one."""
    return card["owner_id"] or 1


def _postponed(data: Dataset, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    before = {"due": isoformat_z(data.original_due[index]), "due_date": None}
    return before, {"due": isoformat_z(data.tasks[index]["due"])}
