"""The CalDAV server through an independent client (python-caldav) over real HTTP, with the
calendar app mounted at /calendar as ``cardcrm up`` mounts it."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any

import caldav
import pytest
import vobject
from cardcrm.calendar_sync.dav import views
from icalendar import Calendar
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from .conftest import free_port
from .dav_helpers import dav_user

PASSWORD = "an-app-password"


@pytest.fixture
def dav_server(calendar: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The calendar app under /calendar on a real port; Basic auth with e-mail and
    ``PASSWORD`` for the users added to ``known`` (app passwords are the auth module's)."""
    from flask import request

    known: dict[str, dict[str, Any]] = {}

    def current_user() -> dict[str, Any]:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            email, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if email in known and password == PASSWORD:
                return known[email]
        raise views.DavError(401, "Log in.", None, {"WWW-Authenticate": 'Basic realm="cardcrm"'})

    monkeypatch.setattr(views, "current_dav_user", current_user)
    site = DispatcherMiddleware(Response("core", 404), {"/calendar": calendar.app})
    port = free_port()
    server = make_server("127.0.0.1", port, site, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()

    class Site:
        url = f"http://127.0.0.1:{port}/calendar/dav/"

        def client(self, api: Any) -> caldav.DAVClient:
            user = dav_user(api)
            known[user["email"]] = user
            return caldav.DAVClient(
                url=self.url, username=user["email"], password=PASSWORD, enable_rfc6764=False
            )

    yield Site()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def deal(member: Any, sales: dict) -> dict:
    return member.card(sales, "ACME: 40 chairs")


def both_parsers(data: str, component: str) -> Any:
    (parsed,) = Calendar.from_ical(data).walk(component)
    again = vobject.readOne(data)
    assert str(getattr(again, component.lower()).uid.value) == str(parsed["UID"])
    return parsed


def test_caldav_finds_both_calendars_and_the_tasks_in_them(calendar, member, deal, dav_server):
    task = member.task(deal, "2026-12-01T09:30:00Z", "Call Ana back")
    calendar.catch_up()
    client = dav_server.client(member)

    calendars = {each.get_display_name(): each for each in client.principal().calendars()}

    assert set(calendars) == {"Tasks", "Deadlines"}
    (todo,) = calendars["Tasks"].search(todo=True)
    parsed = both_parsers(todo.data, "VTODO")
    assert str(parsed["SUMMARY"]) == "Call Ana back — ACME: 40 chairs"
    uid = str(parsed["UID"])
    assert calendars["Tasks"].get_todo_by_uid(uid).url.path.endswith(f"/{task['id']}.ics")
    (event,) = calendars["Deadlines"].search(event=True)
    both_parsers(event.data, "VEVENT")


def test_caldav_syncs_changes_made_in_cardcrm(calendar, member, deal, dav_server):
    first = member.task(deal, "2026-12-01T09:30:00Z", "First")
    second = member.task(deal, "2026-12-02T09:30:00Z", "Second")
    calendar.catch_up()
    client = dav_server.client(member)
    tasks = next(
        each for each in client.principal().calendars() if each.get_display_name() == "Tasks"
    )
    listing = tasks.get_objects_by_sync_token(load_objects=True)
    assert {item.url.path.rsplit("/", 1)[1] for item in listing} == {
        f"{first['id']}.ics",
        f"{second['id']}.ics",
    }

    member.ok("PATCH", f"tasks/{first['id']}", {"text": "First, changed"})
    member.ok("DELETE", f"tasks/{second['id']}", status=204)
    calendar.catch_up()
    updated, deleted = listing.sync()

    assert [item.url.path.rsplit("/", 1)[1] for item in updated] == [f"{first['id']}.ics"]
    assert str(both_parsers(updated[0].data, "VTODO")["SUMMARY"]).startswith("First, changed")
    assert [item.url.path.rsplit("/", 1)[1] for item in deleted] == [f"{second['id']}.ics"]


def test_caldav_cannot_read_another_users_calendar(calendar, member, deal, dav_server, new_user):
    member.task(deal, "2026-12-01T09:30:00Z")
    calendar.catch_up()
    other = dav_server.client(new_user("other@example.com"))
    url = f"{dav_server.url}calendars/{member.user.id}/tasks/"

    with pytest.raises(caldav.lib.error.DAVError) as refused:
        caldav.Calendar(client=other, url=url).search(todo=True)
    assert "404" in str(refused.value)
