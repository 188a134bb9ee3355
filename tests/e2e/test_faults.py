"""Faults in a running deployment, under load: processes killed with SIGKILL, core's database
restarted, the CalDAV and SMTP servers gone for a while.

Writers change Ana's tasks through core's API the whole time (retrying when core cannot be
reached, as a client would). Afterwards, each scenario checks the same promises:

- every change core acknowledged is in core;
- both sidecars processed every event (their cursors reach core's last event id);
- Ana's CalDAV calendar and iCal feed hold exactly her open tasks, at their deadlines, once each;
- every task given to her brought one e-mail and one inbox item: none lost, none twice — except
  an e-mail whose sender was killed mid-send, sent again with the same ``Message-ID`` (the
  documented at-least-once of e-mail).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from icalendar import Calendar

from .conftest import (
    Client,
    Person,
    Radicale,
    SmtpServer,
    Stack,
    add_person,
    admin_person,
    connect_caldav,
    deployment,
    dump,
    free_port,
    postgres_url,
    todo_uid,
    unavailable,
    wait_for,
)

pytestmark = pytest.mark.slow

SUBJECT = "assigned you a task: "


# --- Ana's world in a deployment ----------------------------------------------------------------


@dataclass
class World:
    """A deployment with Boss giving tasks to Ana on a few cards she may work on."""

    stack: Stack
    boss: Person
    ana: Person
    email: str
    cards: list[dict[str, Any]]
    account: dict[str, Any]
    calendar_app: Any
    feed_url: str
    #: task id → the task as core last acknowledged it to a writer
    acknowledged: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Message-IDs of e-mails sent again after their sender was killed (at least once)
    resent: set[str] = field(default_factory=set)

    @classmethod
    def make(cls, stack: Stack, email: str) -> World:
        boss = admin_person(stack)
        ana = add_person(stack, email, "Ana")
        ana.notifications.ok("PATCH", "preferences", {"email": email})
        account, calendar_app = connect_caldav(ana, stack.radicale)
        feed_url = ana.calendar.ok("POST", "feed", status=201)["url"]
        product = boss.core.ok("POST", "products", {"name": "Sales", "template": "sales"}, 201)
        boss.core.ok(
            "PUT",
            f"products/{product['id']}/members",
            {"items": [{"user_id": ana.id, "own_cards_only": False}]},
        )
        cards = [
            boss.core.ok("POST", f"products/{product['id']}/cards", {"title": title}, 201)
            for title in ("ACME", "Globex", "Initech")
        ]
        return cls(stack, boss, ana, email, cards, account, calendar_app, feed_url)

    def tasks_in_core(self) -> dict[int, dict[str, Any]]:
        return {
            task["id"]: task
            for card in self.cards
            for task in self.ana.core.items(f"cards/{card['id']}/tasks")
        }


# --- the writers -----------------------------------------------------------------------------


class Load:
    """Writers giving Ana tasks, closing and postponing them, through core's API.

    A request that gets no answer or a 5xx is sent again (for up to ``RETRY_SECONDS``), as a
    careful client does, with the same ``Idempotency-Key``, so that a retry of a change that
    went through is not made twice; a change counts as acknowledged once core answered it with
    success (or, for a retry whose first answer was lost, once core shows it was done).
    """

    RETRY_SECONDS = 30.0

    def __init__(self, world: World, label: str, writers: int = 2, pace: float = 0.03) -> None:
        self.world, self.label, self.pace = world, label, pace
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.retries = 0
        self.errors: list[str] = []
        self.writes = 0
        self.threads = [
            threading.Thread(target=self._write, args=(number,), name=f"load-{label}-{number}")
            for number in range(writers)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(self.RETRY_SECONDS + 15)
        assert not any(thread.is_alive() for thread in self.threads), "a writer hangs"
        print(f"load {self.label!r}: {self.writes} writes answered, {self.retries} retries")

    def run_for(self, seconds: float) -> None:
        time.sleep(seconds)
        assert not self.errors, self.errors

    def _write(self, number: int) -> None:
        client = Client(self.world.stack.urls["core"], self.world.boss.token)
        base = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=2)
        mine: list[dict[str, Any]] = []  # this writer's open tasks, oldest first
        step = 0
        try:
            while not self.stopping.is_set():
                step += 1
                card = self.world.cards[(number + step) % len(self.world.cards)]
                body = {
                    "text": f"{self.label} w{number} #{step}",
                    "due": _iso(base + timedelta(hours=step, minutes=number)),
                    "assignee_id": self.world.ana.id,
                }
                response = self._send(client, "POST", f"cards/{card['id']}/tasks", body)
                if response.status_code == 409:  # done, but core stopped before answering
                    made = [
                        task
                        for task in client.items(f"cards/{card['id']}/tasks")
                        if task["text"] == body["text"]
                    ]
                    if len(made) != 1:
                        self._error("create", response)
                        return
                    mine.append(self._acknowledge(made[0]))
                elif response.status_code != 201:
                    self._error("create", response)
                    return
                else:
                    mine.append(self._acknowledge(response.json()))
                if step % 2 == 0:
                    self._close(client, mine.pop(0))
                if step % 3 == 0 and mine:
                    self._postpone(client, mine[-1])
                time.sleep(self.pace)
        except Exception as error:  # noqa: BLE001 - reported by the test, with its cause
            self.errors.append(f"writer {number}: {error!r}")

    def _close(self, client: Client, task: dict[str, Any]) -> None:
        response = self._send(client, "POST", f"tasks/{task['id']}/close", {"outcome": "done"})
        if response.status_code == 409:  # a retry of a close that had gone through
            response = client.request("GET", f"tasks/{task['id']}")
            if response.json().get("status") != "done":
                self._error("close", response)
                return
        elif response.status_code != 200:
            self._error("close", response)
            return
        self._acknowledge(response.json())

    def _postpone(self, client: Client, task: dict[str, Any]) -> None:
        due = _iso(datetime.fromisoformat(task["due"]) + timedelta(days=1))
        response = self._send(client, "POST", f"tasks/{task['id']}/postpone", {"due": due})
        if response.status_code in (409, 422):  # a retry of a postponement that went through
            response = client.request("GET", f"tasks/{task['id']}")
            if response.json().get("due") != due:
                self._error("postpone", response)
                return
        elif response.status_code != 200:
            self._error("postpone", response)
            return
        task.update(self._acknowledge(response.json()))

    def _send(self, client: Client, method: str, path: str, body: Any) -> Any:
        deadline = time.monotonic() + self.RETRY_SECONDS
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        while True:
            try:
                response = client.request(method, path, body, timeout=10, headers=dict(headers))
                if response.status_code < 500:
                    with self.lock:
                        self.writes += 1
                    return response
                failure = f"{response.status_code} {response.text[:200]}"
            except requests.RequestException as error:
                failure = repr(error)
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path}: core did not answer for 30 s: {failure}")
            with self.lock:
                self.retries += 1
            time.sleep(0.2)

    def _acknowledge(self, task: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.world.acknowledged[task["id"]] = task
        return task

    def _error(self, what: str, response: Any) -> None:
        self.errors.append(f"{what}: {response.status_code} {response.text[:300]}")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- the promises ---------------------------------------------------------------------------------


def check_everything(world: World, *, resends_allowed: bool = False, timeout: float = 40) -> None:
    """Wait until the sidecars have caught up, then check every promise (see the module)."""
    stack = world.stack
    started = time.monotonic()
    deadline = started + timeout

    def remaining() -> float:
        return max(1.0, deadline - time.monotonic())

    # Every change core acknowledged is in core, as acknowledged.
    tasks = world.tasks_in_core()
    for task_id, acknowledged in world.acknowledged.items():
        assert task_id in tasks, f"acknowledged task {task_id} is not in core"
        now = tasks[task_id]
        assert (now["status"], now["due"]) == (acknowledged["status"], acknowledged["due"]), (
            acknowledged,
            now,
        )
    # No change was made twice: retries carried the same Idempotency-Key.
    texts = [task["text"] for task in tasks.values()]
    assert sorted(texts) == sorted(set(texts)), "a retried create made a task twice"

    # Every event was processed.
    last = stack.last_event_id()
    wait_for(
        lambda: stack.cursor("calendar") >= last and stack.cursor("notifications") >= last,
        remaining(),
        f"both sidecars to process every event up to {last}",
        lambda: {service: stack.cursor(service) for service in ("calendar", "notifications")},
    )

    # The calendar and the feed hold exactly Ana's open tasks, each once, at their deadlines.
    expected = {
        todo_uid(stack, task): datetime.fromisoformat(task["due"])
        for task in tasks.values()
        if task["status"] == "open"
    }

    def in_calendar() -> dict[str, datetime]:
        """The to-dos still to do (done tasks stay in the calendar as completed for 7 days)."""
        return {
            uid: todo["DUE"].dt
            for uid, todo in world.calendar_app.by_uid().items()
            if str(todo.get("STATUS")) != "COMPLETED"
        }

    def calendar_differences() -> str:
        found = in_calendar()
        wrong = {uid: (due, expected[uid]) for uid, due in found.items() if uid in expected}
        return dump(
            {
                "missing": sorted(expected.keys() - found.keys()),
                "not open in core": sorted(found.keys() - expected.keys()),
                "due, expected": {uid: pair for uid, pair in wrong.items() if pair[0] != pair[1]},
                "account": stack.sidecar_sql(
                    "calendar",
                    "SELECT id, failures, retry_at, last_error, lease_owner, lease_until,"
                    " (SELECT count(*) FROM pending_pushes) FROM caldav_accounts",
                ),
            }
        )

    wait_for(
        lambda: in_calendar() == expected,
        remaining(),
        "the CalDAV calendar to hold the open tasks",
        calendar_differences,
    )
    completed = {
        uid
        for uid, todo in world.calendar_app.by_uid().items()
        if str(todo.get("STATUS")) == "COMPLETED"
    }
    done = {todo_uid(stack, task) for task in tasks.values() if task["status"] == "done"}
    assert completed <= done, f"completed in the calendar, not done in core: {completed - done}"

    def account_in_sync() -> bool:  # the round that pushed the last change has ended
        account = world.ana.calendar.ok("GET", f"caldav/{world.account['id']}")
        return account["pending"] == 0 and account["last_error"] is None

    wait_for(account_in_sync, remaining(), "the CalDAV account to show no error, none pending")
    feed = requests.get(world.feed_url, timeout=10)
    events = Calendar.from_ical(feed.content).walk("VEVENT")
    assert {str(event["UID"]): event["DTSTART"].dt for event in events} == expected

    # One e-mail and one inbox item per task given to Ana.
    def deliveries_done() -> list[dict[str, Any]] | None:
        items = world.ana.notifications.items("deliveries")
        if len(items) == 2 * len(tasks) and all(item["state"] == "sent" for item in items):
            return items
        return None

    def delivery_states() -> str:
        items = world.ana.notifications.items("deliveries")
        states = Counter(f"{item['channel']} {item['state']}" for item in items)
        return f"{len(tasks)} tasks; deliveries: {dict(states)}; e.g. " + dump(
            [item for item in items if item["state"] != "sent"][:3]
        )

    deliveries = wait_for(
        deliveries_done, remaining(), "every delivery to be sent", delivery_states
    )
    texts = Counter(task["text"] for task in tasks.values())
    messages = stack.smtp.messages_to(world.email)
    by_id: dict[str, list[Any]] = {}
    for message in messages:
        by_id.setdefault(message["Message-ID"], []).append(message)
    assert Counter(_told(copies[0]["Subject"]) for copies in by_id.values()) == texts
    for copies in by_id.values():
        assert len({str(copy["Subject"]) for copy in copies}) == 1  # copies of one message
    sent_twice = {key: copies for key, copies in by_id.items() if len(copies) > 1}
    retried = [d for d in deliveries if d["channel"] == "email" and d["attempts"] > 1]
    if resends_allowed:  # at least once: only what a killed sender may have sent already
        assert len(sent_twice) <= len(retried), (len(sent_twice), len(retried))
        world.resent |= set(sent_twice)
    # Any other e-mail sent twice is a duplicate.
    duplicates = [
        copies[0]["Subject"] for key, copies in sent_twice.items() if key not in world.resent
    ]
    assert duplicates == []
    inbox = world.ana.notifications.items("inbox")
    assert Counter(_told(item["title"]) for item in inbox) == texts  # exactly once
    print(
        f"checked: {len(tasks)} tasks ({len(expected)} open), {len(world.acknowledged)} "
        f"acknowledged, {len(messages)} e-mails ({len(sent_twice)} sent twice, {len(retried)} "
        f"retried), {len(inbox)} inbox items, events up to {last}, "
        f"in {time.monotonic() - started:.1f} s"
    )


def _told(subject: str) -> str:
    """The task's text in a notification's subject ("Boss assigned you a task: <text>")."""
    assert SUBJECT in subject, subject
    return subject.split(SUBJECT, 1)[1]


# --- the deployment: core's database on a PostgreSQL server of the module's own ----------------


class PrivatePostgres:
    """A PostgreSQL cluster of this module alone, which a test may stop as a crash would
    (the machine's shared server is not ours to restart)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="cardcrm-e2e-pg-"))
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as the postgres user
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self.data = self.folder / "data"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    @staticmethod
    def bindir() -> tuple[Path | None, str]:
        """Where initdb and pg_ctl are, or why this machine cannot run a cluster of ours."""
        candidates = []
        if shutil.which("pg_config"):
            found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
            candidates.append(Path(found.stdout.strip()))
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
        for folder in candidates:
            if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
                break
        else:
            return None, "PostgreSQL's initdb and pg_ctl are not installed (pg_config --bindir)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return None, "running as root, with no postgres user to run PostgreSQL as"
            if not shutil.which("runuser"):
                return None, "running as root, without runuser to run PostgreSQL as postgres"
        return folder, ""

    def _run(self, program: str, *args: str) -> None:
        command = [*self.as_postgres, str(self.bindir / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (command, result.stdout, result.stderr)

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        return self

    def crash(self) -> None:
        """Stop at once, as a power cut would: recovery from the WAL at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        command = [*self.as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.data)]
        subprocess.run([*command, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def core_database() -> Iterator[PrivatePostgres | str]:
    """Core's PostgreSQL server: a cluster of the module's own, or why there is none (core's
    database then goes to CI's server, and only the test that restarts it is skipped)."""
    postgres_url()  # skips the module at once without CI's PostgreSQL
    bindir, reason = PrivatePostgres.bindir()
    if bindir is None:
        yield reason
        return
    server = PrivatePostgres(bindir)
    try:
        yield server.start()
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    smtp: SmtpServer,
    radicale: Radicale,
    core_database: PrivatePostgres | str,
) -> Iterator[Stack]:
    """The module's deployment; the sidecars' databases are on CI's PostgreSQL."""
    core_url = core_database.url if isinstance(core_database, PrivatePostgres) else None
    with deployment(tmp_path_factory.mktemp("stack"), smtp, radicale, core_url) as running:
        yield running


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    return World.make(stack, "ana@example.com")


# --- the scenarios ----------------------------------------------------------------------------


def test_both_workers_killed_mid_load_lose_nothing_and_repeat_nothing(world):
    stack = world.stack
    with Load(world, "workers") as load:
        load.run_for(1.5)
        stack.kill("calendar-worker")
        load.run_for(0.5)
        stack.kill("notifications-worker")
        load.run_for(1.0)
        for name in ("calendar-worker", "notifications-worker"):
            stack.process(name).start()
        load.run_for(1.5)
    assert not load.errors, load.errors
    release_leases_of_killed_senders(world)
    check_everything(world, resends_allowed=True)


def test_two_workers_of_each_kind_share_the_load_and_repeat_nothing(world):
    """Several workers of a kind may run (docs/production.md, Scaling): they share the feed's
    cursor (a row lock), the deliveries (SKIP LOCKED) and the calendar accounts (a lease), so
    every change reaches the calendar and the mailbox once."""
    stack = world.stack
    extra = ("calendar-worker-2", "notifications-worker-2")
    try:
        stack.start(*extra)
        with Load(world, "two workers") as load:
            load.run_for(4.0)
        assert not load.errors, load.errors
        check_everything(world)
    finally:
        for name in extra:
            stack.process(name).stop()


def release_leases_of_killed_senders(world: World) -> None:
    """Deliveries the killed worker had claimed stay ``sending`` for their lease (120 s)
    before they are sent again. Once the new worker has sent everything else, move those
    leases' end to now, as if the two minutes had passed."""
    stack = world.stack
    last = stack.last_event_id()
    wait_for(lambda: stack.cursor("notifications") >= last, 30, "the notifications worker")

    def only_orphans_left() -> dict[str, set[int]] | None:
        rows = stack.sidecar_sql(
            "notifications", "SELECT id, state FROM deliveries WHERE state <> 'sent'"
        )
        if any(state != "sending" for _, state in rows):
            return None
        first = {delivery_id for delivery_id, _ in rows}
        time.sleep(1.5)  # nothing of the new worker's stays `sending` that long
        rows = stack.sidecar_sql(
            "notifications", "SELECT id FROM deliveries WHERE state = 'sending'"
        )
        return {"orphans": first} if {row[0] for row in rows} == first else None

    orphans = wait_for(
        only_orphans_left,
        30,
        "the restarted worker to send what it can",
        lambda: stack.sidecar_sql(
            "notifications", "SELECT state, count(*) FROM deliveries GROUP BY state"
        ),
    )
    print(f"deliveries left `sending` by the killed worker: {sorted(orphans['orphans'])}")
    if orphans["orphans"]:
        stack.sidecar_sql(
            "notifications",
            "UPDATE deliveries SET next_attempt_at = now() - interval '1 second'"
            " WHERE state = 'sending'",
        )


def test_core_killed_mid_load_keeps_every_acknowledged_change(world):
    stack = world.stack
    with Load(world, "core") as load:
        load.run_for(1.5)
        stack.kill("core")
        time.sleep(1.0)
        stack.restart("core")
        load.run_for(1.0)
    assert not load.errors, load.errors
    assert load.retries > 0  # the writers did meet a dead core
    check_everything(world)


def test_core_keeps_every_acknowledged_change_when_its_database_restarts(world, core_database):
    if not isinstance(core_database, PrivatePostgres):
        unavailable(core_database)
    with Load(world, "database") as load:
        load.run_for(1.5)
        core_database.crash()
        time.sleep(1.0)
        core_database.start()
        load.run_for(1.0)
    assert not load.errors, load.errors
    assert load.retries > 0  # the writers did meet core without its database
    check_everything(world)


def test_changes_made_while_the_caldav_and_smtp_servers_are_down_reach_them_afterwards(world):
    """Both servers go away together: one wait covers both recoveries (the e-mails' first
    retry comes 15 to 30 s after their failure, the backoff with jitter)."""
    stack = world.stack
    with Load(world, "outage") as load:
        load.run_for(0.5)
        stack.radicale.stop()
        stack.smtp.stop()
        load.run_for(2.0)
    assert not load.errors, load.errors

    def failures_shown() -> bool:
        account = world.ana.calendar.ok("GET", f"caldav/{world.account['id']}")
        retrying = world.ana.notifications.items("deliveries?channel=email&state=retrying")
        return bool(account["last_error"]) and any(
            "SMTP" in (item["last_error"] or "") for item in retrying
        )

    wait_for(failures_shown, 20, "the failed sync and e-mails to show in the APIs")
    stack.radicale.start()
    stack.smtp.start()
    check_everything(world, timeout=60)
