"""The CalDAV server under a real `cardcrm up`, synced by vdirsyncer: a second client, written
independently of python-caldav (test_dav_cardcrm_up.py), and the engine khal and todoman users
sync with. It runs as its command-line program, as a user runs it: its own configuration file,
the site's address alone as the server (discovery through ``/.well-known/caldav``), the user's
e-mail and an app password, and a local folder of ``.ics`` files that other programs edit.

Runs on SQLite and, with CARDCRM_TEST_POSTGRES_URL, on PostgreSQL: `cardcrm up` then gets a
fresh database per service on that server (CARDCRM_*DATABASE_URL).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from icalendar import Calendar, Todo
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.cardcrm_up import cardcrm_up

from .test_dav_cardcrm_up import (
    DEMO_PASSWORD,
    Site,
    call,
    core_task,
    wait_for,
)

pytestmark = pytest.mark.slow

VDIRSYNCER = Path(sys.executable).parent / "vdirsyncer"
POSTGRES_URL = os.environ.get("CARDCRM_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
#: The environment variable of each service's database under `cardcrm up`.
DATABASE_VARIABLES = {
    "core": "CARDCRM_DATABASE_URL",
    "calendar": "CARDCRM_CALENDAR_DATABASE_URL",
    "notifications": "CARDCRM_NOTIFICATIONS_DATABASE_URL",
}
#: What vdirsyncer logs when it moves an item, one way or the other.
ITEM_ACTIONS = re.compile(r"Copying \((uploading|updating)\) item|Deleting item")


@contextmanager
def databases(backend: str) -> Iterator[dict[str, str]]:
    """The environment giving `cardcrm up` its databases: none on SQLite (its files in the data
    folder), a new PostgreSQL database per service otherwise, dropped afterwards."""
    if backend == "sqlite":
        yield {}
        return
    assert POSTGRES_URL
    prefix = f"cardcrm_vdir_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for service in DATABASE_VARIABLES:
                connection.execute(text(f'CREATE DATABASE "{prefix}_{service}"'))
        url = make_url(POSTGRES_URL)
        yield {
            variable: url.set(database=f"{prefix}_{service}").render_as_string(False)
            for service, variable in DATABASE_VARIABLES.items()
        }
    finally:
        with admin.connect() as connection:
            for service in DATABASE_VARIABLES:
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)')
                )
        admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real `cardcrm up` (all services, the calendar worker following core), its log kept:
    the tests read whom it answered what."""
    folder = tmp_path_factory.mktemp("dav-vdirsyncer")
    with (
        databases(request.param) as database_env,
        cardcrm_up(
            folder, demo_password=DEMO_PASSWORD, ready_path="/calendar/healthz", **database_env
        ) as base,
    ):
        yield LoggedSite(base, folder / "up.log")


class LoggedSite(Site):
    """The site, and what its `cardcrm up` logged (gunicorn's access log names the user)."""

    def __init__(self, base: str, log: Path) -> None:
        super().__init__(base)
        self.log = log


class Vdirsyncer:
    """One user's vdirsyncer, all of it in ``folder``: configuration, status and the local
    calendars (``calendars/tasks/`` and ``calendars/deadlines/``, one ``.ics`` per item).

    The pair takes its collections ``from b`` (the server) and creates the local folders
    without asking (``implicit = "create"``), so ``discover`` needs no answer typed in. No
    ``conflict_resolution``: a conflict is an error that the tests would see.
    """

    def __init__(self, folder: Path, site: Site, user: dict[str, Any]) -> None:
        self.local = folder / "calendars"
        self.status = folder / "status"
        self.config = folder / "config"
        values = {
            "status_path": json.dumps(f"{self.status}/"),
            "path": json.dumps(f"{self.local}/"),
            "url": json.dumps(site.base + "/"),
            "username": json.dumps(user["email"]),
            "password": json.dumps(user["app"]),
        }
        self.config.write_text(
            """[general]
status_path = {status_path}

[pair crm]
a = "local"
b = "cardcrm"
collections = ["from b"]
implicit = "create"

[storage local]
type = "filesystem"
path = {path}
fileext = ".ics"

[storage cardcrm]
type = "caldav"
url = {url}
username = {username}
password = {password}
""".format(**values)
        )

    def run(self, *args: str, ok: bool = True) -> str:
        """``vdirsyncer ARGS`` as its user runs it; what it said (it logs to stderr)."""
        done = subprocess.run(
            [str(VDIRSYNCER), "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        said = done.stdout + done.stderr
        assert (done.returncode == 0) == ok, said
        return said

    def sync(self) -> str:
        return self.run("sync")

    def files(self, collection: str = "tasks") -> dict[Path, bytes]:
        return {path: path.read_bytes() for path in sorted((self.local / collection).glob("*"))}

    def todos(self) -> dict[str, tuple[Path, Any]]:
        """The local to-dos by their task's text (the SUMMARY before " — " and the card)."""
        found = {}
        for path, body in self.files().items():
            (todo,) = Calendar.from_ical(body).walk("VTODO")
            found[str(todo["SUMMARY"]).split(" — ")[0]] = (path, todo)
        return found

    def etags(self, collection: str) -> dict[str, str]:
        """The server's ETag of each item, as vdirsyncer keeps it in its status."""
        path = self.status / "crm" / f"{collection}.items"
        with sqlite3.connect(path) as status:
            return dict(status.execute("SELECT ident, etag_b FROM status").fetchall())


def served(site: Site, user: dict[str, Any], task: dict[str, Any]) -> str | None:
    """The to-do of ``task`` as the server has it now; None once it is gone.

    A 503 (core, which says who the user is, did not answer in time: a loaded machine) is
    "not yet", like a change the mirror has not caught up with."""
    collection = f"{site.base}/calendar/dav/calendars/{user['id']}/tasks/"
    answer = requests.get(
        f"{collection}{task['id']}.ics", auth=(user["email"], user["app"]), timeout=10
    )
    if answer.status_code == 404:
        return None
    if answer.status_code == 503:
        return ""
    assert answer.status_code == 200, answer.text
    return answer.text


def synced(site: Site, user: dict[str, Any], tmp_path: Path, *tasks: dict[str, Any]) -> Vdirsyncer:
    """A vdirsyncer set up for ``user``, discovered and synced once the server mirrors
    ``tasks``."""
    for task in tasks:
        wait_for(lambda task=task: task["text"] in (served(site, user, task) or ""), "the mirror")
    vdirsyncer = Vdirsyncer(tmp_path, site, user)
    vdirsyncer.run("discover")
    vdirsyncer.sync()
    return vdirsyncer


def test_discovery_from_the_site_address_finds_both_calendars(site, tmp_path):
    ivy = site.user("ivy@example.com")
    vdirsyncer = Vdirsyncer(tmp_path, site, ivy)

    said = vdirsyncer.run("discover")

    assert '"tasks" ("Tasks")' in said and '"deadlines" ("Deadlines")' in said, said
    assert 'collections = ["deadlines", "tasks"]' in said or (
        'collections = ["tasks", "deadlines"]' in said
    ), said
    assert {path.name for path in vdirsyncer.local.iterdir()} == {"tasks", "deadlines"}
    # It was given the site's root, which is no DAV resource: /.well-known/caldav led it on.
    asked = f'{ivy["email"]} [^"]*"PROPFIND /.well-known/caldav HTTP/1.1" 301 '
    assert re.search(asked, site.log.read_text())


def test_a_sync_writes_one_file_per_open_task(site, tmp_path):
    jo = site.user("jo@example.com")
    card = site.card("Jo's order")
    call_back = site.task(card, jo, "Call Jo back")
    offer = site.task(card, jo, "Send the offer", days=3)

    vdirsyncer = synced(site, jo, tmp_path, call_back, offer)

    todos = vdirsyncer.todos()
    assert set(todos) == {"Call Jo back", "Send the offer"}
    assert len(vdirsyncer.files()) == 2
    for task in (call_back, offer):
        _, todo = todos[task["text"]]
        assert todo["DUE"].dt == datetime.fromisoformat(task["due"])
        assert str(todo.get("STATUS", "NEEDS-ACTION")) == "NEEDS-ACTION"
    events = [
        event
        for body in vdirsyncer.files("deadlines").values()
        for event in Calendar.from_ical(body).walk("VEVENT")
    ]
    assert sorted(str(event["SUMMARY"]).split(" — ")[0] for event in events) == [
        "Call Jo back",
        "Send the offer",
    ]


def test_changes_made_in_cardcrm_reach_the_local_files_at_the_next_sync(site, tmp_path):
    kim = site.user("kim@example.com")
    card = site.card("Kim's deal")
    rename = site.task(card, kim, "Rename me")
    tick = site.task(card, kim, "Tick me")
    gone = site.task(card, kim, "Delete me")
    vdirsyncer = synced(site, kim, tmp_path, rename, tick, gone)
    before = vdirsyncer.files()
    deleted = vdirsyncer.todos()["Delete me"][0]

    site.task(card, kim, "Brand new")
    renamed = call(
        site.base, "PATCH", f"/api/v1/tasks/{rename['id']}", {"text": "Renamed"}, site.admin
    )
    assert renamed[0] == 200, renamed
    done = call(site.base, "POST", f"/api/v1/tasks/{tick['id']}/close", {}, site.admin)
    assert done[0] == 200, done
    assert call(site.base, "DELETE", f"/api/v1/tasks/{gone['id']}", None, site.admin)[0] == 204
    wait_for(lambda: "STATUS:COMPLETED" in (served(site, kim, tick) or ""), "the completion")
    wait_for(lambda: "Renamed" in (served(site, kim, rename) or ""), "the new text mirrored")
    wait_for(lambda: served(site, kim, gone) is None, "the deletion mirrored")
    said = vdirsyncer.sync()

    todos = vdirsyncer.todos()
    assert set(todos) == {"Renamed", "Tick me", "Brand new"}, said
    assert str(todos["Tick me"][1]["STATUS"]) == "COMPLETED"
    assert todos["Tick me"][1].get("COMPLETED") is not None
    # The same files, changed in place; the new task in a file of its own.
    assert todos["Renamed"][0] in before and todos["Tick me"][0] in before
    assert todos["Renamed"][0].read_bytes() != before[todos["Renamed"][0]]
    assert todos["Tick me"][0].read_bytes() != before[todos["Tick me"][0]]
    assert todos["Brand new"][0] not in before
    assert not deleted.exists()


def test_to_dos_edited_locally_are_applied_in_cardcrm_as_the_user(site, tmp_path):
    lea = site.user("lea@example.com")
    card = site.card("Lea's deal")
    tick = site.task(card, lea, "Tick me locally")
    rename = site.task(card, lea, "Rename me locally")
    vdirsyncer = synced(site, lea, tmp_path, tick, rename)
    todos = vdirsyncer.todos()

    def edit(path: Path, change: Any) -> None:
        calendar = Calendar.from_ical(path.read_bytes())
        (todo,) = calendar.walk("VTODO")
        change(todo)
        path.write_bytes(calendar.to_ical())

    def complete(todo: Any) -> None:
        todo["STATUS"] = "COMPLETED"
        todo.add("COMPLETED", datetime.now(UTC).replace(microsecond=0))

    def retitle(todo: Any) -> None:
        todo["SUMMARY"] = "Call the buyer"

    edit(todos["Tick me locally"][0], complete)
    edit(todos["Rename me locally"][0], retitle)
    said = vdirsyncer.sync()

    assert len(ITEM_ACTIONS.findall(said)) == 2, said
    closed = core_task(site, tick["id"])
    assert (closed["status"], closed["closed_by_id"]) == ("done", lea["id"])
    assert core_task(site, rename["id"])["text"] == "Call the buyer"
    # The server's own rendering of the changed to-dos comes back at a later sync.
    wait_for(lambda: "Call the buyer" in (served(site, lea, rename) or ""), "the text mirrored")
    vdirsyncer.sync()
    todos = vdirsyncer.todos()
    assert set(todos) == {"Tick me locally", "Call the buyer"}
    assert str(todos["Tick me locally"][1]["STATUS"]) == "COMPLETED"


def test_a_sync_with_nothing_changed_transfers_nothing(site, tmp_path):
    max_ = site.user("max@example.com")
    card = site.card("Max's deal")
    stay = site.task(card, max_, "Stay as I am")
    too = site.task(card, max_, "Me too", days=2)
    vdirsyncer = synced(site, max_, tmp_path, stay, too)
    files = {name: vdirsyncer.files(name) for name in ("tasks", "deadlines")}
    stamps = {path: path.stat().st_mtime_ns for each in files.values() for path in each}
    etags = {name: vdirsyncer.etags(name) for name in files}

    said = vdirsyncer.sync()

    assert ITEM_ACTIONS.findall(said) == [], said
    assert {name: vdirsyncer.files(name) for name in files} == files
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps
    assert {name: vdirsyncer.etags(name) for name in files} == etags
    assert all(len(each) == 2 for each in etags.values())


def test_a_revoked_app_password_fails_the_next_sync_as_an_authentication_error(site, tmp_path):
    ned = site.user("ned@example.com")
    task = site.task(site.card("Ned's deal"), ned, "Before the revocation")
    vdirsyncer = synced(site, ned, tmp_path, task)
    _, passwords = call(site.base, "GET", "/calendar/api/v1/app-passwords", token=ned["token"])
    (phone,) = passwords["items"]
    revoke = f"/calendar/api/v1/app-passwords/{phone['id']}"
    assert call(site.base, "DELETE", revoke, token=ned["token"])[0] == 204

    logged = len(site.log.read_text())
    said = vdirsyncer.run("sync", ok=False)

    assert "401" in said and "Unauthorized" in said.title(), said
    assert len(vdirsyncer.files()) == 1  # the local copy is kept
    answers = [line for line in site.log.read_text()[logged:].splitlines() if ned["email"] in line]
    assert answers and all('" 401 ' in line for line in answers), answers
    assert "Traceback" not in site.log.read_text()


def test_a_to_do_made_locally_becomes_a_task_and_is_not_duplicated(site, tmp_path):
    """A to-do made by todoman (a new file in the local folder) is uploaded to a name of
    vdirsyncer's choosing; the server files it under its task's id (``Location``). The next
    syncs must match it by its UID, not bring it down again as a second to-do."""
    ola = site.user("ola@example.com")
    task = site.task(site.card("Ola's deal"), ola, "Already there")
    vdirsyncer = synced(site, ola, tmp_path, task)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    made = Calendar()
    made.add("PRODID", "-//todoman//EN")
    made.add("VERSION", "2.0")
    todo = Todo()
    todo.add("UID", "made-in-todoman-1@example.com")
    todo.add("SUMMARY", "Buy stamps")
    todo.add("DUE", due)
    todo.add("DTSTAMP", due)
    made.add_component(todo)
    (vdirsyncer.local / "tasks" / "made-in-todoman-1.ics").write_bytes(made.to_ical())

    said = vdirsyncer.sync()

    assert len(ITEM_ACTIONS.findall(said)) == 1, said
    day = due.date().isoformat()
    _, today = call(site.base, "GET", f"/api/v1/today?from={day}&to={day}", token=ola["token"])
    [new] = [item for item in today["tasks"] if item["text"] == "Buy stamps"]
    assert (new["assignee_id"], new["card"]["title"]) == (ola["id"], "Calendar inbox")
    vdirsyncer.sync()
    vdirsyncer.sync()
    todos = vdirsyncer.todos()
    assert set(todos) == {"Already there", "Buy stamps"}
    assert len(vdirsyncer.files()) == 2
    assert str(todos["Buy stamps"][1]["UID"]) == "made-in-todoman-1@example.com"
