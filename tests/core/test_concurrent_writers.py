"""Many people editing the same cards and tasks at once, against core served by several gunicorn
worker processes: a stale write gets 412 and changes nothing, no acknowledged write is lost, no
lock error reaches anyone, and each card's ``next_task_due``, history and events agree afterwards.

Each writer works like a careful client: read (``ETag``), change, write with ``If-Match``, and
on 412 read again and reapply. Every acknowledged write is noted with the version it produced;
the checks at the end compare those notes with what the API shows.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cardcrm.common.db import Database
from cardcrm.core.auth.service import create_token, create_user

from ..test_server_process import environment, free_port, server

pytestmark = pytest.mark.slow

WRITERS = 14
CARDS = 3
DURATION = 5.0
#: On a slow machine the run goes on (up to this) until every kind of change got through.
MAX_DURATION = 15.0
#: Tasks per card beyond which writers work on the existing ones instead of adding more.
MAX_TASKS_PER_CARD = 8
#: Attempts of one change (a re-read and a retry after each 412) before a writer gives up on it.
MAX_ATTEMPTS = 40
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
STATUSES = [
    {"name": "New", "group": "inactive"},
    {"name": "Doing", "group": "in_progress"},
    {"name": "Won", "group": "positive"},
]
#: History and event types written by each kind of acknowledged change, in their order.
TYPES_OF = {
    "card.append": ["card.updated"],
    "card.move": ["card.updated", "card.status_changed"],
    "task.created": ["task.created"],
    "task.updated": ["task.updated"],
    "task.postponed": ["task.postponed"],
    "task.closed": ["task.closed"],
    "task.reopened": ["task.reopened"],
}


@dataclass
class Ack:
    """A write the server acknowledged (2xx), and the version it answered with."""

    kind: str
    card_id: int
    version: int
    user_id: int
    token: str
    task_id: int | None = None
    due: datetime | None = None
    status: str | None = None  # a task's status, or a card's status id after a move


@dataclass
class Outcome:
    acks: list[Ack] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    unexpected: list[tuple[str, str, int, Any]] = field(default_factory=list)
    gave_up: int = 0


class Client:
    """JSON over HTTP with one user's token; every answer is tallied in ``outcome``.

    One connection per request: a write whose answer was lost on a reused keep-alive
    connection would leave it unknown whether the write happened.
    """

    def __init__(self, base: str, token: str, outcome: Outcome) -> None:
        self.base, self.token, self.outcome = base, token, outcome

    def call(
        self, method: str, path: str, body: Any = None, if_match: str | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if if_match is not None:
            request.add_header("If-Match", if_match)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, dict(error.headers), error.read()
        answer = json.loads(raw) if raw else None
        self.outcome.statuses[status] += 1
        if status not in (200, 201, 412):
            self.outcome.unexpected.append((method, path, status, answer))
        return status, headers, answer

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        code, _, answer = self.call(method, path, body)
        assert code == status, (method, path, code, answer)
        return answer

    def items(self, path: str) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            separator = "&" if "?" in path else "?"
            page = self.ok("GET", path + (f"{separator}cursor={cursor}" if cursor else ""))
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


class Writer(threading.Thread):
    """One person hammering the shared cards until ``stop`` is set: edits, moves, tasks."""

    def __init__(
        self,
        number: int,
        client: Client,
        user_id: int,
        cards: list[int],
        statuses: list[int],
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"writer-{number}", daemon=True)
        self.number, self.client, self.user_id = number, client, user_id
        self.cards, self.statuses, self.stop = cards, statuses, stop
        self.random = random.Random(number)
        self.counter = 0
        self.error: BaseException | None = None

    @property
    def outcome(self) -> Outcome:
        return self.client.outcome

    def run(self) -> None:
        try:
            while not self.stop.is_set() and not self.outcome.unexpected:
                card_id = self.random.choice(self.cards)
                roll = self.random.random()
                if roll < 0.3:
                    self.append_to_card(card_id)
                elif roll < 0.45:
                    self.move_card(card_id)
                else:
                    self.work_on_a_task(card_id)
        except BaseException as error:  # reported by the test, with the writer's name
            self.error = error

    def token(self) -> str:
        self.counter += 1
        return f"w{self.number}.{self.counter}"

    def read(self, path: str) -> tuple[dict[str, Any], str] | None:
        status, headers, answer = self.client.call("GET", path)
        return (answer, headers["ETag"]) if status == 200 else None

    def write(self, method: str, path: str, body: Any, etag: str) -> dict[str, Any] | None:
        """The answer of a successful conditional write; ``None`` after a 412 (or a failure,
        which the client tallies)."""
        status, headers, answer = self.client.call(method, path, body, if_match=etag)
        if status not in (200, 201):
            return None
        if (
            headers.get("ETag") != f'"{answer["version"]}"'
            or answer["version"] != int(etag.strip('"')) + 1
        ):
            self.outcome.unexpected.append(
                (
                    method,
                    path,
                    status,
                    ("version", etag, headers.get("ETag"), answer["version"], answer),
                )
            )
            return None
        return answer

    def retrying(self, attempt: Any) -> None:
        for _ in range(MAX_ATTEMPTS):
            if self.outcome.unexpected or attempt():
                return
        self.outcome.gave_up += 1

    # --- cards -----------------------------------------------------------------------------

    def append_to_card(self, card_id: int) -> None:
        """Read-modify-write of the card's log: each acknowledged token must stay in it."""
        token = self.token()

        def attempt() -> bool:
            read = self.read(f"/api/v1/cards/{card_id}")
            if read is None:
                return True
            card, etag = read
            log = f"{card['fields'].get('log', '')} {token}".strip()
            answer = self.write("PATCH", f"/api/v1/cards/{card_id}", {"fields": {"log": log}}, etag)
            if answer is not None:
                self.note("card.append", card_id, answer, token)
            return answer is not None

        self.retrying(attempt)

    def move_card(self, card_id: int) -> None:
        """Move the card on to the next status (round the cycle) and retitle it."""
        token = self.token()

        def attempt() -> bool:
            read = self.read(f"/api/v1/cards/{card_id}")
            if read is None:
                return True
            card, etag = read
            following = self.statuses[(self.statuses.index(card["status_id"]) + 1) % 3]
            body = {"status_id": following, "title": f"Card {token}"}
            answer = self.write("PATCH", f"/api/v1/cards/{card_id}", body, etag)
            if answer is not None:
                self.note("card.move", card_id, answer, token, status=str(following))
            return answer is not None

        self.retrying(attempt)

    # --- tasks -----------------------------------------------------------------------------

    def work_on_a_task(self, card_id: int) -> None:
        status, _, page = self.client.call("GET", f"/api/v1/cards/{card_id}/tasks?limit=500")
        if status != 200:
            return
        if len(page["items"]) < MAX_TASKS_PER_CARD and self.random.random() < 0.3:
            self.add_task(card_id)
        elif page["items"]:
            self.change_task(card_id, self.random.choice(page["items"])["id"])

    def add_task(self, card_id: int) -> None:
        token = self.token()
        due = START + timedelta(minutes=self.random.randrange(0, 30 * 24 * 60, 15))
        body = {"text": f"Task {token}", "due": _iso(due)}
        status, _, task = self.client.call("POST", f"/api/v1/cards/{card_id}/tasks", body)
        if status == 201:
            self.note("task.created", card_id, task, token, task=task)

    def change_task(self, card_id: int, task_id: int) -> None:
        """Edit, postpone or close the task if it is open, reopen it if it is not."""
        token = self.token()
        path = f"/api/v1/tasks/{task_id}"

        def attempt() -> bool:
            read = self.read(path)
            if read is None:
                return True
            task, etag = read
            action = (
                self.random.choice(["edit", "postpone", "close"])
                if task["status"] == "open"
                else "reopen"
            )
            if action == "edit":  # a new text and any deadline, earlier ones too
                due = START + timedelta(minutes=self.random.randrange(0, 30 * 24 * 60, 15))
                body = {"text": f"Task {token}", "due": _iso(due)}
                answer, kind = self.write("PATCH", path, body, etag), "task.updated"
            elif action == "postpone":
                due = _parse(task["due"]) + timedelta(minutes=self.random.randrange(15, 600, 15))
                body = {"due": _iso(due)}
                answer, kind = self.write("POST", path + "/postpone", body, etag), "task.postponed"
            elif action == "close":
                body = {"outcome": self.random.choice(["done", "cancelled"])}
                answer, kind = self.write("POST", path + "/close", body, etag), "task.closed"
            else:
                answer, kind = self.write("POST", path + "/reopen", None, etag), "task.reopened"
            if answer is not None:
                self.note(kind, card_id, answer, token, task=answer)
            return answer is not None

        self.retrying(attempt)

    def note(
        self,
        kind: str,
        card_id: int,
        answer: dict[str, Any],
        token: str,
        *,
        task: dict[str, Any] | None = None,
        status: str | None = None,
    ) -> None:
        self.outcome.acks.append(
            Ack(
                kind,
                card_id,
                answer["version"],
                self.user_id,
                token,
                task_id=task["id"] if task else None,
                due=_parse(task["due"]) if task else None,
                status=task["status"] if task else status,
            )
        )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- the served core ------------------------------------------------------------------------


@dataclass
class ServedCore:
    base: str
    log: Path
    users: list[tuple[int, str]]  # (user id, token); the first is an admin


@pytest.fixture
def served_core(database_url: str, tmp_path: Path) -> Iterator[ServedCore]:
    """``cardcrm serve core --workers 3 --threads 4`` on a migrated database with an admin and
    two members (made through the same service functions as the CLI's)."""
    database = Database(database_url)
    users = []
    try:
        for number, email in enumerate(["boss@example.com", "ana@example.com", "bo@example.com"]):
            session = database.session()
            try:
                user = create_user(
                    session,
                    email=email,
                    name=email[:3],
                    password="s3cret-pass",
                    is_admin=not number,
                )
                token, _ = create_token(session, user=user)
                users.append((user.id, token))
            finally:
                session.close()
    finally:
        database.dispose()
    env = environment(CARDCRM_DATA_DIR=str(tmp_path / "data"), CARDCRM_DATABASE_URL=database_url)
    port = free_port()
    log = tmp_path / "serve.log"
    args = ["serve", "core", "--port", str(port), "--workers", "3", "--threads", "4"]
    with server(args, env, log, port) as base:
        yield ServedCore(base, log, users)


def test_concurrent_writers_lose_no_update_and_leave_cards_consistent(served_core):
    setup = Client(served_core.base, served_core.users[0][1], Outcome())
    product = setup.ok(
        "POST",
        "/api/v1/products",
        {
            "name": "Race",
            "statuses": STATUSES,
            "fields": [{"key": "log", "label": "Log", "type": "text"}],
        },
        status=201,
    )
    setup.ok(
        "PUT",
        f"/api/v1/products/{product['id']}/members",
        {"items": [{"user_id": user_id} for user_id, _ in served_core.users[1:]]},
    )
    statuses = [status["id"] for status in product["statuses"]]
    cards = [
        setup.ok(
            "POST", f"/api/v1/products/{product['id']}/cards", {"title": f"Card {n}"}, status=201
        )["id"]
        for n in range(CARDS)
    ]

    stop = threading.Event()
    writers = []
    for number in range(WRITERS):
        user_id, token = served_core.users[number % len(served_core.users)]
        client = Client(served_core.base, token, Outcome())
        writers.append(Writer(number, client, user_id, cards, statuses, stop))
    for writer in writers:
        writer.start()
    started = time.monotonic()
    time.sleep(DURATION)
    while time.monotonic() < started + MAX_DURATION and not all(
        any(ack.kind == kind for writer in writers for ack in writer.outcome.acks)
        for kind in TYPES_OF
    ):
        time.sleep(0.2)
    stop.set()
    for writer in writers:
        writer.join(60)
        assert not writer.is_alive(), f"{writer.name} is stuck"
        assert writer.error is None, (writer.name, writer.error)

    outcomes = [writer.outcome for writer in writers]
    statuses_seen = sum((outcome.statuses for outcome in outcomes), Counter())
    unexpected = [item for outcome in outcomes for item in outcome.unexpected]
    acks = [ack for outcome in outcomes for ack in outcome.acks]
    # Every answer is a success or a 412: no 5xx ("database is locked"), no 409 or 422 (each
    # change is made against the version it read, so it always fits that version).
    assert not unexpected, unexpected[:5]
    assert set(statuses_seen) <= {200, 201, 412}, statuses_seen
    log = served_core.log.read_text()
    assert "database is locked" not in log and "Traceback" not in log, log[-3000:]
    # The run really raced: stale writes happened, and every kind of change got through.
    assert statuses_seen[412] > 0, statuses_seen
    assert {ack.kind for ack in acks} == set(TYPES_OF), Counter(ack.kind for ack in acks)

    print(
        f"{len(acks)} acknowledged writes, {statuses_seen[412]} stale writes answered 412, "
        f"{sum(outcome.gave_up for outcome in outcomes)} changes given up, "
        f"{sum(statuses_seen.values())} requests: {dict(Counter(ack.kind for ack in acks))}"
    )
    admin = setup
    for card_id in cards:
        check_card(admin, card_id, [ack for ack in acks if ack.card_id == card_id])
    check_events(admin, cards, acks)


def check_card(api: Client, card_id: int, acks: list[Ack]) -> None:
    card = api.ok("GET", f"/api/v1/cards/{card_id}")

    # No lost card update: the acknowledged writes hold versions 2, 3, ... with no gap and no
    # version twice, the card is at the last one, and its log holds every appended token in
    # the order of the writes.
    card_acks = sorted((ack for ack in acks if ack.kind.startswith("card.")), key=by_version)
    assert [ack.version for ack in card_acks] == list(range(2, len(card_acks) + 2)), card_id
    assert card["version"] == len(card_acks) + 1
    appended = [ack.token for ack in card_acks if ack.kind == "card.append"]
    assert card["fields"].get("log", "").split() == appended
    moves = [ack for ack in card_acks if ack.kind == "card.move"]
    if moves:
        assert (card["title"], str(card["status_id"])) == (
            f"Card {moves[-1].token}",
            moves[-1].status,
        )

    # No lost task update: each task's acknowledged writes hold versions 1, 2, ..., and the
    # task shows the state its last write left.
    tasks = {task["id"]: task for task in api.items(f"/api/v1/cards/{card_id}/tasks?limit=500")}
    task_acks: dict[int, list[Ack]] = {}
    for ack in sorted((ack for ack in acks if ack.task_id is not None), key=by_version):
        task_acks.setdefault(ack.task_id, []).append(ack)
    assert set(tasks) == set(task_acks)
    for task_id, writes in task_acks.items():
        task = tasks[task_id]
        assert [ack.version for ack in writes] == list(range(1, len(writes) + 1)), task_id
        assert task["version"] == len(writes)
        assert (task["status"], _parse(task["due"])) == (writes[-1].status, writes[-1].due)
        postponed = sum(ack.kind == "task.postponed" for ack in writes)
        assert task["postponed_count"] == postponed

    # next_task_due is the earliest deadline of the card's open tasks (the tasks API's view).
    open_dues = [_parse(task["due"]) for task in tasks.values() if task["status"] == "open"]
    assert _parse(card["next_task_due"]) == (min(open_dues) if open_dues else None), card_id

    # The history has one entry per acknowledged change: as many of each kind, by the user
    # who made it, and in the order of the versions for the card and for each task.
    history = api.items(f"/api/v1/cards/{card_id}/history?limit=500")
    expected = Counter({"card.created": 1})
    for ack in acks:
        expected.update(TYPES_OF[ack.kind])
    assert Counter(entry["type"] for entry in history) == expected, card_id
    assert [entry["id"] for entry in history] == sorted(entry["id"] for entry in history)

    card_history = [e for e in history if e["type"] in ("card.updated", "card.status_changed")]
    assert [(entry["type"], history_token(entry), entry["user_id"]) for entry in card_history] == [
        (kind, ack.token if kind == "card.updated" else ack.status, ack.user_id)
        for ack in card_acks
        for kind in TYPES_OF[ack.kind]
    ]
    for task_id, writes in task_acks.items():
        entries = [entry for entry in history if entry["task_id"] == task_id]
        assert [(entry["type"], entry["user_id"]) for entry in entries] == [
            (TYPES_OF[ack.kind][0], ack.user_id) for ack in writes
        ], task_id


def history_token(entry: dict[str, Any]) -> str:
    """What an entry of the card's own changes names: the token written, or the status."""
    if entry["type"] == "card.status_changed":
        return str(entry["data"]["to"]["id"])
    changes = entry["data"]["changes"]
    if "title" in changes:
        return changes["title"]["after"].removeprefix("Card ")
    return changes["fields.log"]["after"].split()[-1]


def check_events(api: Client, cards: list[int], acks: list[Ack]) -> None:
    """The event feed has exactly one event per acknowledged change, with the version it made."""
    events, after = [], 0
    while True:
        page = api.ok("GET", f"/api/v1/events?after={after}&limit=1000")
        events += page["items"]
        if not page["items"]:
            break
        after = page["last_id"]
    assert [event["id"] for event in events] == sorted({event["id"] for event in events})
    seen = Counter(
        (event["type"], event["data"]["id"], event["data"]["version"])
        for event in events
        if event["type"].startswith(("card.", "task."))
        and event["type"] != "card.created"
        and event["data"].get("card_id", event["data"]["id"]) in cards
    )
    expected = Counter(
        (kind, ack.task_id or ack.card_id, ack.version)
        for ack in acks
        for kind in TYPES_OF[ack.kind]
    )
    assert seen == expected


def by_version(ack: Ack) -> int:
    return ack.version
