"""The CalDAV server as `cardcrm up` runs it (mounted under /calendar, the mirror followed by
the worker thread), through python-caldav as a calendar app would use it, with app passwords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import caldav
import pytest
import requests
import vobject
from icalendar import Calendar

from tests.cardcrm_up import DEMO_EMAIL, call, cardcrm_up, wait_for

DEMO_PASSWORD = "dav-tests-demo-password"
CURRENT_USER_PRINCIPAL = """<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One ``cardcrm up`` for the module: each test makes users and cards of its own."""
    folder = tmp_path_factory.mktemp("dav-up")
    with cardcrm_up(folder, demo_password=DEMO_PASSWORD, ready_path="/calendar/healthz") as base:
        yield Site(base)


class Site:
    def __init__(self, base: str) -> None:
        self.base = base
        _, login = call(
            base, "POST", "/api/v1/auth/token", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        )
        self.admin = login["token"]
        self.admin_id = login["user"]["id"]
        _, products = call(base, "GET", "/api/v1/products", token=self.admin)
        self.product = products["items"][0]

    def user(self, email: str, own_cards_only: bool = False) -> dict[str, Any]:
        status, made = call(
            self.base,
            "POST",
            "/api/v1/users",
            {"email": email, "name": email.split("@")[0].title(), "password": "password-1234"},
            self.admin,
        )
        assert status == 201, made
        _, login = call(
            self.base, "POST", "/api/v1/auth/token", {"email": email, "password": "password-1234"}
        )
        members = f"/api/v1/products/{self.product['id']}/members"
        _, current = call(self.base, "GET", members, token=self.admin)
        items = [*current["items"], {"user_id": made["id"], "own_cards_only": own_cards_only}]
        assert call(self.base, "PUT", members, {"items": items}, self.admin)[0] == 200
        status, secret = call(
            self.base, "POST", "/calendar/api/v1/app-passwords", {"name": "phone"}, login["token"]
        )
        assert status == 201, secret
        return {
            "id": made["id"],
            "email": email,
            "token": login["token"],
            "app": secret["password"],
        }

    def card(self, title: str, owner_id: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"title": title}
        if owner_id is not None:
            body["owner_id"] = owner_id
        status, card = call(
            self.base, "POST", f"/api/v1/products/{self.product['id']}/cards", body, self.admin
        )
        assert status == 201, card
        return card

    def task(self, card: dict, assignee: dict, text: str, days: int = 1) -> dict[str, Any]:
        due = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()
        body = {"text": text, "due": due, "assignee_id": assignee["id"]}
        status, task = call(
            self.base, "POST", f"/api/v1/cards/{card['id']}/tasks", body, self.admin
        )
        assert status == 201, task
        return task

    def client(self, user: dict[str, Any]) -> caldav.DAVClient:
        return caldav.DAVClient(
            url=self.base + "/calendar/dav/",
            username=user["email"],
            password=user["app"],
            enable_rfc6764=False,
        )


def calendars(client: caldav.DAVClient) -> dict[str, Any]:
    return {each.get_display_name(): each for each in client.principal().calendars()}


def test_a_phone_given_only_the_site_address_is_sent_on_by_the_well_known_address(site):
    """The issue's "discovery from the site root" (RFC 6764 section 5): the app is given
    ``http://host:port/``. python-caldav 3 does not look up ``/.well-known/caldav`` itself for
    an address with a path, nor for one over plain http, so the test takes the steps an app
    does, with that same client: the well-known address, followed, then its principal."""
    fay = site.user("fay@example.com")
    client = caldav.DAVClient(
        url=site.base + "/", username=fay["email"], password=fay["app"], enable_rfc6764=False
    )
    well_known = site.base + "/.well-known/caldav"

    moved = requests.request("PROPFIND", well_known, allow_redirects=False, timeout=10)
    assert moved.status_code == 301
    assert moved.headers["Location"] == site.base + "/calendar/dav/"
    found = client.propfind(well_known, CURRENT_USER_PRINCIPAL, depth=0)
    assert found.status == 207
    assert found.tree.findtext("{DAV:}response/{DAV:}href") == "/calendar/dav/"
    principal_href = found.tree.findtext(".//{DAV:}current-user-principal/{DAV:}href")
    principal = caldav.Principal(client=client, url=client.url.join(principal_href))
    assert {each.get_display_name() for each in principal.calendars()} == {"Tasks", "Deadlines"}


def texts(calendar: Any, todo: bool = True) -> set[str]:
    found = calendar.search(todo=True) if todo else calendar.search(event=True)
    return {str(item.icalendar_component["SUMMARY"]).split(" — ")[0] for item in found}


def test_a_phone_finds_both_calendars_and_its_tasks(site):
    ana = site.user("ana@example.com")
    card = site.card("ACME: 40 chairs")
    first = site.task(card, ana, "Call Ana back")
    site.task(card, ana, "Send the offer", days=2)
    client = site.client(ana)

    found = calendars(client)
    assert set(found) == {"Tasks", "Deadlines"}
    wait_for(lambda: len(texts(found["Tasks"])) == 2, "the mirror")
    assert texts(found["Tasks"]) == {"Call Ana back", "Send the offer"}
    assert texts(found["Deadlines"], todo=False) == {"Call Ana back", "Send the offer"}
    for item in found["Tasks"].search(todo=True):
        (parsed,) = Calendar.from_ical(item.data).walk("VTODO")
        assert vobject.readOne(item.data).vtodo.uid.value == str(parsed["UID"])
    url = found["Tasks"].url.join(f"{first['id']}.ics")
    (got,) = found["Tasks"].calendar_multiget([url])
    assert "Call Ana back" in got.data


def test_sync_tokens_follow_changes_made_in_cardcrm(site):
    bob = site.user("bob@example.com")
    card = site.card("Bob's deal")
    kept = site.task(card, bob, "Keep me")
    gone = site.task(card, bob, "Delete me")
    tasks = calendars(site.client(bob))["Tasks"]
    wait_for(lambda: len(texts(tasks)) == 2, "the mirror")
    listing = tasks.get_objects_by_sync_token(load_objects=True)

    call(site.base, "PATCH", f"/api/v1/tasks/{kept['id']}", {"text": "Kept, renamed"}, site.admin)
    call(site.base, "DELETE", f"/api/v1/tasks/{gone['id']}", None, site.admin)
    wait_for(lambda: texts(tasks) == {"Kept, renamed"}, "the mirror")
    updated, deleted = listing.sync()

    assert [item.url.path.rsplit("/", 1)[1] for item in updated] == [f"{kept['id']}.ics"]
    assert [item.url.path.rsplit("/", 1)[1] for item in deleted] == [f"{gone['id']}.ics"]


def test_another_users_calendar_is_not_found_and_limited_members_see_their_cards(site):
    cleo = site.user("cleo@example.com", own_cards_only=True)
    dan = site.user("dan@example.com")
    theirs = site.card("Cleo's", owner_id=cleo["id"])
    not_theirs = site.card("Not Cleo's", owner_id=site.admin_id)
    site.task(theirs, cleo, "Visible")
    site.task(not_theirs, cleo, "Hidden")
    tasks = calendars(site.client(cleo))["Tasks"]
    wait_for(lambda: texts(tasks) == {"Visible"}, "the mirror")

    response = requests.request(
        "PROPFIND",
        str(tasks.url),
        auth=(dan["email"], dan["app"]),
        headers={"Depth": "1"},
        timeout=10,
    )
    assert response.status_code == 404


def test_a_stale_etag_cannot_overwrite(site):
    eve = site.user("eve@example.com")
    task = site.task(site.card("Eve's"), eve, "Mine")
    tasks = calendars(site.client(eve))["Tasks"]
    wait_for(lambda: texts(tasks) == {"Mine"}, "the mirror")
    url = f"{tasks.url}{task['id']}.ics"
    auth = (eve["email"], eve["app"])
    current = requests.get(url, auth=auth, timeout=10)
    assert current.status_code == 200 and current.headers["ETag"].startswith('"')

    stale = requests.put(
        url, data=current.content, auth=auth, headers={"If-Match": '"stale"'}, timeout=10
    )
    assert stale.status_code == 412
    assert requests.get(url, auth=auth, timeout=10).content == current.content


def core_task(site: Site, task_id: int) -> dict[str, Any]:
    status, task = call(site.base, "GET", f"/api/v1/tasks/{task_id}", token=site.admin)
    assert status == 200, task
    return task


def loaded(client: caldav.DAVClient, calendar: Any, task: dict[str, Any]) -> Any:
    """The task's to-do as the phone holds it: read with its ETag, so its save is an If-Match."""
    todo = caldav.Todo(client=client, url=calendar.url.join(f"{task['id']}.ics"), parent=calendar)
    todo.load()
    return todo


def test_a_phone_completes_re_dates_and_renames_to_dos_as_the_user(site):
    """What a Reminders app does to a to-do reaches core as the user's own change, and the
    app's next sync-collection sees the objects it changed."""
    gil = site.user("gil@example.com")
    card = site.card("Gil's deal")
    tick = site.task(card, gil, "Tick me")
    later = site.task(card, gil, "Move me later")
    earlier = site.task(card, gil, "Move me earlier", days=5)
    rename = site.task(card, gil, "Rename me")
    client = site.client(gil)
    tasks = calendars(client)["Tasks"]
    wait_for(lambda: len(texts(tasks)) == 4, "the mirror")
    listing = tasks.get_objects_by_sync_token(load_objects=True)

    loaded(client, tasks, tick).complete()
    closed = core_task(site, tick["id"])
    assert (closed["status"], closed["closed_by_id"]) == ("done", gil["id"])
    # It stays in the calendar, ticked, instead of vanishing from the phone.
    ticked = loaded(client, tasks, tick).icalendar_component
    assert str(ticked["STATUS"]) == "COMPLETED"

    for task, days, postponed in ((later, 3, 1), (earlier, -2, 0)):
        todo = loaded(client, tasks, task)
        due = todo.icalendar_component["DUE"].dt + timedelta(days=days)
        todo.icalendar_component.pop("DUE")
        todo.icalendar_component.add("DUE", due)
        todo.save()
        now = core_task(site, task["id"])
        assert datetime.fromisoformat(now["due"]) == due
        # A later deadline is a postponement; an earlier one an edit.
        assert now["postponed_count"] == postponed

    todo = loaded(client, tasks, rename)
    todo.icalendar_component["SUMMARY"] = "Call the buyer"
    todo.save()
    assert core_task(site, rename["id"])["text"] == "Call the buyer"

    updated, deleted = listing.sync()
    changed = {item.url.path.rsplit("/", 1)[1] for item in updated}
    assert changed == {f"{task['id']}.ics" for task in (tick, later, earlier, rename)}
    assert list(deleted) == []


def test_a_to_do_made_on_the_phone_becomes_a_task_on_the_users_calendar_inbox(site):
    hal = site.user("hal@example.com")
    client = site.client(hal)
    tasks = calendars(client)["Tasks"]
    due = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
    uid = "made-on-the-phone-1@example.com"

    tasks.add_todo(summary="Buy stamps", due=due, uid=uid)

    day = due.date().isoformat()
    _, today = call(site.base, "GET", f"/api/v1/today?from={day}&to={day}", token=hal["token"])
    [task] = [item for item in today["tasks"] if item["text"] == "Buy stamps"]
    assert task["assignee_id"] == hal["id"]
    assert task["card"]["title"] == "Calendar inbox"
    assert datetime.fromisoformat(task["due"]) == due

    # The app finds its to-do again by the UID it gave.
    def by_uid() -> Any:
        try:
            return tasks.get_object_by_uid(uid)
        except caldav.lib.error.NotFoundError:
            return None

    found = wait_for(by_uid, "the new to-do in the calendar", timeout=10)
    assert str(found.icalendar_component["SUMMARY"]).startswith("Buy stamps")
    # Read back from the server, it is edited like any other to-do.
    found.icalendar_component["SUMMARY"] = "Buy stamps and envelopes"
    found.save()
    assert core_task(site, task["id"])["text"] == "Buy stamps and envelopes"
