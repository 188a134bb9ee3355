"""Synthetic cardcrm data, built in memory as the rows the service functions would have written.

Nothing here touches a database. ``build`` returns row dicts for cards, tasks and
postponements, plus what ``bench.history`` needs to write the history and event rows of every
change: the status each card was created in, its moves between statuses, the creators of tasks
and the deadlines postponed tasks had before.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from cardcrm.core.cards.amount import amount_cents, money_key
from cardcrm.core.cards.search_text import card_search_text
from cardcrm.core.mail.address import SECRET_LENGTH
from cardcrm.core.products.models import CLOSED_GROUPS

from . import samples

DAY = timedelta(days=1)
#: How far back the data goes: cards were created over this span, up to now.
HISTORY_SPAN = timedelta(days=540)
TASKLESS_CARD_SHARE = 0.05
ALL_DAY_SHARE = 0.2
POSTPONED_SHARE = 0.06
TRASHED_SHARE = 0.01
CANCELLED_SHARE = 0.15
#: Cards that end in a closed status usually went through a working one on the way.
VIA_WORKING_SHARE = 0.7

#: base32 in lower case, as card e-mail secrets are written.
SECRET_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True)
class Sizes:
    """How much data to make; the defaults are the issue's size."""

    cards: int = 100_000  # in the main product
    tasks: int = 1_000_000  # spread over every card
    users: int = 50
    other_cards: int = 1_000  # in each of the other products
    closed_share: float = 0.30  # tasks done or cancelled
    seed: int = 2026

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProductPlan:
    """A product already in the database and how many cards it gets."""

    product: Any  # the ORM ``Product``, with its statuses loaded
    cards: int
    task_types: list[str]


class Move(NamedTuple):
    """A card moved to another status (``update_card``), as it was right after the move."""

    card: int  # the card's list index
    at: datetime
    before: int  # status ids
    after: int
    version: int
    next_task_due: datetime | None


@dataclass
class Dataset:
    cards: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    postponements: list[dict[str, Any]] = field(default_factory=list)
    #: ``{"id", "name", "group"}`` of every status, by id.
    statuses: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The status a card was created in, when it moved since (by card index).
    created_status: dict[int, int] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)
    task_creators: list[int] = field(default_factory=list)
    #: The deadline a postponed task had before (by task index).
    original_due: dict[int, datetime] = field(default_factory=dict)


#: ``allowed(product, old_status, new_status, fields)``: do the plugins accept the change?
Veto = Callable[[Any, Any, Any, dict[str, Any]], bool]


def build_users(sizes: Sizes, now: datetime, password_hash: str) -> list[dict[str, Any]]:
    rng = random.Random(sizes.seed)
    zones, weights = zip(*samples.TIMEZONES, strict=True)
    users = []
    for number in range(1, sizes.users + 1):
        first, last = rng.choice(samples.FIRST_NAMES), rng.choice(samples.LAST_NAMES)
        users.append(
            {
                "id": number,
                "email": f"user{number:03d}@bench.example",
                "name": f"{first} {last}",
                "password_hash": password_hash,
                "timezone": "Europe/Bucharest" if number == 1 else rng.choices(zones, weights)[0],
                "is_admin": number == 1,
                "created_at": now - HISTORY_SPAN - DAY,
            }
        )
    return users


def build(
    sizes: Sizes,
    plans: list[ProductPlan],
    users: list[dict[str, Any]],
    now: datetime,
    allowed: Veto,
) -> Dataset:
    """Cards of every product, tasks over them, and how the cards moved between statuses."""
    rng = random.Random(sizes.seed)
    data = Dataset()
    start = now - HISTORY_SPAN
    user_ids = [user["id"] for user in users]
    for plan in plans:
        for status in plan.product.statuses:
            data.statuses[status.id] = {"id": status.id, "name": status.name, "group": status.group}
        data.cards.extend(_cards(rng, plan, user_ids, start, now, allowed))
    data.cards.sort(key=lambda card: card["created_at"])
    for number, card in enumerate(data.cards, start=1):
        card["id"] = number
    types = {plan.product.id: plan.task_types for plan in plans}
    zones = {user["id"]: ZoneInfo(user["timezone"]) for user in users}
    _tasks(rng, data, sizes, types, user_ids, zones, now)
    _settle_cards(data)
    _move_cards(rng, data, {plan.product.id: plan.product for plan in plans}, now, allowed)
    _trash(rng, data, now)
    return data


def _cards(
    rng: random.Random,
    plan: ProductPlan,
    user_ids: list[int],
    start: datetime,
    now: datetime,
    allowed: Veto,
) -> Iterator[dict[str, Any]]:
    product = plan.product
    statuses = list(product.statuses)
    weights = [
        samples.GROUP_WEIGHTS[status.group] / sum(s.group == status.group for s in statuses)
        for status in statuses
    ]
    span = (now - start - DAY).total_seconds()
    money = money_key(product.fields)
    for number in range(1, plan.cards + 1):
        created = start + timedelta(seconds=rng.random() * span)
        status = rng.choices(statuses, weights)[0]
        values = samples.field_values(rng, product.fields, number, created, complete=False)
        if not allowed(product, None, status, values):
            values = samples.field_values(rng, product.fields, number, created, complete=True)
            if not allowed(product, None, status, values):
                status = statuses[0]
        title = samples.card_title(rng, product.template, number, created)
        yield {
            "id": 0,
            "product_id": product.id,
            "status_id": status.id,
            "title": title,
            "search_text": card_search_text(title, values),
            "amount_cents": amount_cents(values, money),
            # As ``mail.address.new_secret`` makes them, from the generator's own random source.
            "email_secret": "".join(rng.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH)),
            "owner_id": rng.choice(user_ids) if rng.random() < 0.98 else None,
            "fields": values,
            "next_task_due": None,
            "trashed_at": None,
            "created_at": created,
            "updated_at": created,
            "version": 1,
        }


def _tasks(
    rng: random.Random,
    data: Dataset,
    sizes: Sizes,
    types: dict[int, list[str]],
    user_ids: list[int],
    zones: dict[int, ZoneInfo],
    now: datetime,
) -> None:
    cards = data.cards
    weights = [0.0 if rng.random() < TASKLESS_CARD_SHARE else rng.expovariate(1.0) for _ in cards]
    picks = rng.choices(range(len(cards)), weights, k=sizes.tasks)
    closed_card = [data.statuses[card["status_id"]]["group"] in CLOSED_GROUPS for card in cards]
    # Cards that ended keep no open task; the other cards' tasks close at the rate that makes
    # the overall share of closed tasks come out as asked.
    forced = sum(closed_card[index] for index in picks) / max(len(picks), 1)
    close_rate = max(0.0, (sizes.closed_share - forced) / (1 - forced)) if forced < 1 else 0.0
    utc = ZoneInfo("UTC")
    texts = rng.choices(samples.TASK_TEXTS, k=len(picks))
    # random() * n picks like choice() does, at a fraction of the cost over a million tasks
    draw = rng.random
    tasks, creators = [], []
    for number, index in enumerate(picks):
        card = cards[index]
        owner = card["owner_id"]
        created = card["created_at"] + (now - card["created_at"]) * draw()
        if owner is not None and draw() < 0.7:
            assignee = owner
        else:
            assignee = user_ids[int(draw() * len(user_ids))]
        type_keys = types[card["product_id"]]
        closed = closed_card[index] or rng.random() < close_rate
        if closed:
            due = _quarter(created + timedelta(days=rng.random() * 21))
        else:
            due = _quarter(now + timedelta(days=rng.uniform(-30, 120)))
            if due < created:
                due = _quarter(created + timedelta(hours=rng.uniform(1, 14 * 24)))
        due_date = None
        if rng.random() < ALL_DAY_SHARE:
            zone = zones.get(assignee, utc)
            due_date = due.astimezone(zone).date()
            due = datetime.combine(due_date, time(), tzinfo=zone).astimezone(UTC)
        task = {
            "id": 0,
            "card_id": index,  # the card's list index until ids are given below
            "product_id": card["product_id"],
            "text": texts[number],
            "type": type_keys[int(draw() * len(type_keys))],
            "assignee_id": assignee,
            "due": due,
            "all_day": due_date is not None,
            "due_date": due_date,
            "status": "open",
            "closed_at": None,
            "closed_by_id": None,
            "postponed_count": 0,
            "card_trashed": False,
            "repeat": None,
            "series_id": None,
            "series_due": None,
            "created_at": created,
            "updated_at": created,
            "version": 1,
        }
        if closed:
            latest = min(now, due + 7 * DAY)
            closed_at = created + max(latest - created, timedelta(minutes=5)) * rng.random()
            task["status"] = "cancelled" if rng.random() < CANCELLED_SHARE else "done"
            task["closed_at"] = task["updated_at"] = closed_at
            task["closed_by_id"] = assignee
            task["version"] = 2
        tasks.append(task)
        creators.append(owner if owner is not None else assignee)
    order = sorted(range(len(tasks)), key=lambda number: tasks[number]["created_at"])
    data.tasks = [tasks[number] for number in order]
    data.task_creators = [creators[number] for number in order]
    for number, task in enumerate(data.tasks, start=1):
        task["id"] = number
    _postpone(rng, data, now)


def _postpone(rng: random.Random, data: Dataset, now: datetime) -> None:
    """Some open timed tasks were moved once to a later deadline."""
    for index, task in enumerate(data.tasks):
        if task["status"] != "open" or task["all_day"] or rng.random() >= POSTPONED_SHARE:
            continue
        before = _quarter(task["due"] - timedelta(hours=rng.uniform(24, 14 * 24)))
        at = task["created_at"] + (now - task["created_at"]) * rng.random()
        data.original_due[index] = before
        task.update(postponed_count=1, updated_at=at, version=2)
        data.postponements.append(
            {
                "id": 0,
                "task_id": task["id"],
                "assignee_id": task["assignee_id"],
                "user_id": task["assignee_id"],
                "at": at,
                "before": before,
                "after": task["due"],
            }
        )
    data.postponements.sort(key=lambda row: row["at"])
    for number, row in enumerate(data.postponements, start=1):
        row["id"] = number


def _settle_cards(data: Dataset) -> None:
    """Each card's ``next_task_due`` and ``updated_at`` as the task changes left them."""
    cards = data.cards
    for task in data.tasks:
        card = cards[task["card_id"]]
        task["card_id"] = card["id"]
        if task["updated_at"] > card["updated_at"]:
            card["updated_at"] = task["updated_at"]
        if task["status"] == "open" and (
            card["next_task_due"] is None or task["due"] < card["next_task_due"]
        ):
            card["next_task_due"] = task["due"]


def _move_cards(
    rng: random.Random, data: Dataset, products: dict[int, Any], now: datetime, allowed: Veto
) -> None:
    """Cards not in their product's first status were created there and moved since."""
    tasks_of: list[list[int]] = [[] for _ in data.cards]
    for index, task in enumerate(data.tasks):
        tasks_of[task["card_id"] - 1].append(index)
    by_id = {status.id: status for product in products.values() for status in product.statuses}
    for index, card in enumerate(data.cards):
        product = products[card["product_id"]]
        first, final = product.statuses[0], by_id[card["status_id"]]
        if final is first:
            continue
        path = _path(rng, product, first, final, card["fields"], allowed)
        if path is None:  # no way the plugins accept: it was created in its status
            continue
        data.created_status[index] = first.id
        life = now - card["created_at"]
        times = sorted(card["created_at"] + life * rng.random() for _ in path)
        previous = first
        for at, status in zip(times, path, strict=True):
            card["version"] += 1
            due = _next_due_at(data, tasks_of[index], at)
            data.moves.append(Move(index, at, previous.id, status.id, card["version"], due))
            previous = status
        card["updated_at"] = max(card["updated_at"], times[-1])


def _path(
    rng: random.Random, product: Any, first: Any, final: Any, fields: dict, allowed: Veto
) -> list[Any] | None:
    """The statuses a card went through after ``first`` to reach ``final``."""
    working = [status for status in product.statuses if status.group == "in_progress"]
    candidates = []
    if working and final.group in CLOSED_GROUPS and rng.random() < VIA_WORKING_SHARE:
        candidates.append([rng.choice(working), final])
    candidates.append([final])
    if working and working[0] is not final:
        candidates.append([working[0], final])  # e.g. an invoice is sent before it is paid
    for path in candidates:
        steps = zip([None, first, *path[:-1]], [first, *path], strict=True)
        if all(allowed(product, old, new, fields) for old, new in steps):
            return path
    return None


def _next_due_at(data: Dataset, task_indexes: list[int], at: datetime) -> datetime | None:
    """The card's ``next_task_due`` at ``at``: the earliest deadline of its tasks open then."""
    earliest = None
    for index in task_indexes:  # in creation order
        task = data.tasks[index]
        if task["created_at"] > at:
            break
        if task["closed_at"] is not None and task["closed_at"] <= at:
            continue
        due = task["due"]
        if task["postponed_count"] and task["updated_at"] > at:
            due = data.original_due[index]
        if earliest is None or due < earliest:
            earliest = due
    return earliest


def _trash(rng: random.Random, data: Dataset, now: datetime) -> None:
    """A few cards are in the trash: moved there after their last change."""
    for card in data.cards:
        if rng.random() < TRASHED_SHARE:
            card["trashed_at"] = card["updated_at"] + (now - card["updated_at"]) * rng.random()
            card["updated_at"] = card["trashed_at"]
            card["version"] += 1
    # trash_card marks the card's tasks, so that they count nowhere.
    for task in data.tasks:
        if data.cards[task["card_id"] - 1]["trashed_at"] is not None:
            task["card_trashed"] = True


def _quarter(moment: datetime) -> datetime:
    """People pick deadlines on the quarter hour, which also makes ties in the card order."""
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)
