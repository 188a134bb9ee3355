"""Gaps of the CalDAV server found after it was built: a note written on a phone shows back in
its object, the change log is pruned (a token older than it is refused, so the client lists
the collection again), "completed in the last 7 days" counts from the completion, a mirror
rebuild reports the objects it lost, and a series' exception is refused with its
precondition. Through the calendar app's test client with the real writes (core over HTTP),
and through python-caldav against a real ``cardcrm up``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cardcrm.calendar_sync import worker
from cardcrm.calendar_sync.dav import store
from cardcrm.calendar_sync.dav.store import etag_of
from cardcrm.calendar_sync.dav.writes import description_note
from cardcrm.calendar_sync.models import DavChange
from icalendar import Calendar
from sqlalchemy import func, select

from tests.conftest import SqliteBackup

from .dav_helpers import NS, xml
from .test_dav_cardcrm_up import calendars, core_task, loaded, site, texts, wait_for
from .test_dav_protocol import as_user, dav_users

__all__ = ["as_user", "dav_users", "site"]  # fixtures, used by name

NOTE = "Ask about the blue ones."


@pytest.fixture
def deal(member: Any, sales: dict) -> dict:
    return member.card(sales, "ACME: 40 chairs")


def todo_of(data: bytes) -> Any:
    (todo,) = Calendar.from_ical(data).walk("VTODO")
    return todo


def put_edited(dav: Any, href: str, **changes: str) -> Any:
    """GET the object, change its properties as an app does, PUT it back with If-Match."""
    got = dav.request("GET", href)
    calendar = Calendar.from_ical(got.data)
    (todo,) = calendar.walk("VTODO")
    for name, value in changes.items():
        todo.pop(name, None)
        todo.add(name, value)
    return dav.request("PUT", href, calendar.to_ical(), If_Match=got.headers["ETag"])


# --- 1. a note written on the phone shows back --------------------------------------------------


def test_a_phone_reads_back_the_description_it_wrote(site):
    """python-caldav as the phone: its DESCRIPTION with a line after the task's text (as an
    app's user types a note) is the note on the card, and the object it reads next has the
    same DESCRIPTION, with an ETag that is that of its bytes."""
    ivy = site.user("ivy@example.com")
    card = site.card("Ivy's deal")
    task = site.task(card, ivy, "Call Ana back")
    client = site.client(ivy)
    tasks = calendars(client)["Tasks"]
    wait_for(lambda: texts(tasks) == {"Call Ana back"}, "the mirror")
    listing = tasks.get_objects_by_sync_token(load_objects=True)

    todo = loaded(client, tasks, task)
    before = str(todo.icalendar_component["DESCRIPTION"])
    mine = before.replace("Call Ana back\n", f"Call Ana back\n{NOTE}\n", 1)
    assert mine != before
    todo.icalendar_component.pop("DESCRIPTION")
    todo.icalendar_component.add("DESCRIPTION", mine)
    todo.save()

    again = loaded(client, tasks, task).icalendar_component
    assert str(again["DESCRIPTION"]) == mine
    url = f"{tasks.url}{task['id']}.ics"
    got = requests.get(url, auth=(ivy["email"], ivy["app"]), timeout=10)
    assert got.headers["ETag"] == etag_of(got.content)
    assert str(todo_of(got.content)["DESCRIPTION"]) == mine
    assert core_task(site, task["id"])["status"] == "open"
    # The phone's next sync sees its object changed, with the note in it.
    updated, _ = listing.sync()
    [item] = [each for each in updated if each.url.path.endswith(f"/{task['id']}.ics")]
    assert str(item.icalendar_component["DESCRIPTION"]) == mine


def test_a_note_typed_after_the_cards_address_shows_back_and_stays_one_note(
    calendar, member, deal, as_user
):
    task = member.task(deal, "2026-12-01T09:30:00Z", "Call Ana back")
    calendar.catch_up()
    dav = as_user(member)
    href = f"{dav.collection('tasks')}{task['id']}.ics"
    _, token, _ = dav.sync("tasks")
    plain = str(todo_of(dav.request("GET", href).data)["DESCRIPTION"])

    assert put_edited(dav, href, DESCRIPTION=f"{plain}\n{NOTE}").status_code == 204

    [note] = member.ok("GET", f"cards/{deal['id']}/notes")["items"]
    assert note["body"] == NOTE  # not the card's lines above it
    got = dav.request("GET", href)
    assert got.headers["ETag"] == etag_of(got.data)
    shown = str(todo_of(got.data)["DESCRIPTION"])
    assert NOTE in shown and shown.startswith("Call Ana back\n")
    url = f"https://crm.example.com/cards/{deal['id']}"
    assert description_note(shown, "Call Ana back", url) == NOTE
    changes, _, _ = dav.sync("tasks", token)
    assert changes == {href: got.headers["ETag"]}
    # What the app got, PUT back as it is (another change with it), adds no second note.
    calendar.catch_up()
    assert put_edited(dav, href, SUMMARY="Call Ana back — ACME: 40 chairs").status_code == 204
    assert [item["body"] for item in member.ok("GET", f"cards/{deal['id']}/notes")["items"]] == [
        NOTE
    ]
    tree = xml(
        dav.report(
            dav.collection("tasks"),
            '<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
            f"</D:prop><D:href>{href}</D:href></C:calendar-multiget>",
        )
    )
    again = dav.request("GET", href)
    assert tree.findtext(".//D:getetag", namespaces=NS) == again.headers["ETag"]
    data = tree.findtext(".//C:calendar-data", namespaces=NS)
    assert str(todo_of(data.encode())["DESCRIPTION"]) == str(todo_of(again.data)["DESCRIPTION"])


# --- 2. the change log is pruned ----------------------------------------------------------------


def test_the_change_log_is_pruned_and_a_token_older_than_it_lists_everything_again(
    calendar, member, deal, as_user
):
    first = member.task(deal, "2026-12-01T09:30:00Z", "First")
    calendar.catch_up()
    dav = as_user(member)
    tasks = dav.collection("tasks")
    _, old, _ = dav.sync("tasks")
    second = member.task(deal, "2026-12-02T09:30:00Z", "Second")
    calendar.catch_up()
    member.ok("PATCH", f"tasks/{first['id']}", {"text": "First, again"})
    calendar.catch_up()
    _, recent, _ = dav.sync("tasks")
    with calendar.context.database.session() as session:
        logged = session.scalar(select(func.count()).select_from(DavChange))
    assert logged >= 3

    housekeeping = worker.Housekeeping(calendar.context)
    later = datetime.now(UTC) + timedelta(days=store.KEEP_CHANGES_DAYS + 1)
    calendar.context.clock = lambda: later
    pruned = housekeeping.run_due()

    assert pruned == logged - 1  # the user's newest row stays: what their token names
    assert housekeeping.run_due() == 0  # not due again yet
    _, _, refused = dav.sync("tasks", old)
    assert refused.status_code == 403
    assert b"valid-sync-token" in refused.data
    # The client lists everything again, and goes on from there.
    everything, token, _ = dav.sync("tasks")
    assert set(everything) == {f"{tasks}{first['id']}.ics", f"{tasks}{second['id']}.ics"}
    assert dav.sync("tasks", token)[0] == {}
    # A token that names the newest row is still good.
    changes, _, response = dav.sync("tasks", recent)
    assert response.status_code == 207 and changes == {}
    member.ok("PATCH", f"tasks/{second['id']}", {"text": "Second, again"})
    calendar.catch_up()
    assert set(dav.sync("tasks", token)[0]) == {f"{tasks}{second['id']}.ics"}


# --- 4. completed in the last 7 days, from the completion ------------------------------------


def test_a_done_task_stays_seven_days_from_its_completion_not_from_its_last_change(
    calendar, member, deal, as_user, monkeypatch
):
    from cardcrm.core.tasks import service

    long_ago = member.task(deal, "2026-12-01T09:30:00Z", "Done ten days ago")
    lately = member.task(deal, "2026-12-02T09:30:00Z", "Done two days ago")
    now = datetime.now(UTC)
    for task, days in ((long_ago, 10), (lately, 2)):
        with monkeypatch.context() as patch:
            patch.setattr(service, "utcnow", lambda days=days: now - timedelta(days=days))
            member.ok("POST", f"tasks/{task['id']}/close", {})
    # A later change (the card's new title) is no completion.
    member.ok("PATCH", f"cards/{deal['id']}", {"title": "ACME: 41 chairs"})
    calendar.catch_up()
    dav = as_user(member)
    tasks = dav.collection("tasks")

    everything, _, _ = dav.sync("tasks")
    assert set(everything) == {f"{tasks}{lately['id']}.ics"}
    assert dav.request("GET", f"{tasks}{long_ago['id']}.ics").status_code == 404
    todo = todo_of(dav.request("GET", f"{tasks}{lately['id']}.ics").data)
    assert str(todo["STATUS"]) == "COMPLETED"
    closed_at = datetime.fromisoformat(member.ok("GET", f"tasks/{lately['id']}")["closed_at"])
    assert todo["COMPLETED"].dt == closed_at.replace(microsecond=0)


# --- 5. exceptions of a series are refused; a mirror rebuild reports what it lost --------------

OVERRIDE = """BEGIN:VTODO
UID:{uid}
RECURRENCE-ID:20261208T093000Z
DTSTAMP:20261201T080000Z
SUMMARY:Only this one
DUE:20261209T093000Z
STATUS:COMPLETED
END:VTODO
"""


def test_an_exception_of_a_series_is_refused_with_its_precondition(calendar, member, deal, as_user):
    task = member.task(
        deal,
        "2026-12-01T09:30:00Z",
        "Weekly check-in",
        repeat={"freq": "weekly", "interval": 1, "weekdays": ["TU"]},
    )
    calendar.catch_up()
    dav = as_user(member)
    href = f"{dav.collection('tasks')}{task['id']}.ics"
    got = dav.request("GET", href)
    uid = str(todo_of(got.data)["UID"])
    override = OVERRIDE.format(uid=uid).replace("\n", "\r\n").encode()
    end = b"END:VCALENDAR\r\n"
    head = got.data[: -len(end)]
    master_and_override = head + override + end
    alone = head[: head.index(b"BEGIN:VTODO")] + override + end

    for body in (master_and_override, alone):
        response = dav.request("PUT", href, body, If_Match=got.headers["ETag"])
        assert response.status_code == 403, response.data
        tree = xml_error(response)
        assert tree.find("C:valid-calendar-object-resource", NS) is not None
        assert b"RECURRENCE-ID" in response.data
    after = member.ok("GET", f"tasks/{task['id']}")
    assert (after["status"], after["text"]) == ("open", "Weekly check-in")
    assert dav.request("GET", href).data == got.data


def xml_error(response: Any) -> Any:
    from lxml import etree

    assert response.mimetype == "application/xml", response.data
    tree = etree.fromstring(response.data)
    assert tree.tag == "{DAV:}error"
    return tree


def test_a_mirror_rebuilt_after_a_restore_of_core_reports_the_objects_it_lost(
    calendar, member, deal, as_user, database_url, tmp_path
):
    backup = SqliteBackup(database_url, tmp_path)
    kept = member.task(deal, "2026-12-01T09:30:00Z", "Kept by the backup")
    calendar.catch_up()
    backup.take()
    lost = [member.task(deal, f"2026-12-0{day}T09:30:00Z", f"Lost {day}") for day in (2, 3)]
    calendar.catch_up()
    dav = as_user(member)
    tasks = dav.collection("tasks")
    before, token, _ = dav.sync("tasks")
    assert len(before) == 3

    backup.restore()
    new = member.task(deal, "2026-12-04T09:30:00Z", "Made after the restore")
    assert new["id"] == lost[0]["id"]  # core gave the new task a lost one's id
    calendar.catch_up()

    changes, _, response = dav.sync("tasks", token)
    assert response.status_code == 207
    assert changes[f"{tasks}{lost[1]['id']}.ics"] is None  # gone: a 404 member
    reused = f"{tasks}{new['id']}.ics"
    assert changes[reused] is not None and changes[reused] != before[reused]
    assert "Made after the restore" in str(todo_of(dav.request("GET", reused).data)["SUMMARY"])
    assert set(changes) <= {f"{tasks}{kept['id']}.ics", reused, f"{tasks}{lost[1]['id']}.ics"}
