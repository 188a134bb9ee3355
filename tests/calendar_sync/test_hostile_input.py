"""The calendar sync service given input crafted to break it (issue 13): a 4xx, never a 500,
and no control character ever written into an iCalendar object, not even from rows stored
before core refused them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from cardcrm.calendar_sync.ical import parse_remote
from cardcrm.core.auth.models import User
from cardcrm.core.tasks.service import create_task
from icalendar import Calendar

from .conftest import calendar_app_of

JSON = {"Content-Type": "application/json"}
#: What iCalendar allows besides text: CRLF line ends and folding (RFC 5545 §3.1), and tab.
FORBIDDEN_IN_ICALENDAR = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")


def problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    return response.get_json()


@pytest.fixture
def deal(member, sales) -> dict:
    return member.card(sales, "ACME: 40 chairs")


@pytest.fixture
def stored_before_the_rule(app, db_session, member, deal):
    """A task whose text holds a vertical tab, as rows stored before the rule may (written
    with core's service function, past the API that now refuses it)."""
    with app.app_context():
        actor = db_session.get(User, member.user.id)
        data = {"text": "Call\x0bAna\x1b back\x85", "due": datetime(2026, 12, 1, 8, 30, tzinfo=UTC)}
        return create_task(db_session, actor, deal["id"], data)


def test_deep_json_and_control_characters_are_refused_by_the_calendar_api(calendar, member):
    client = calendar.client
    deep = "[" * 100_000
    problem(client.post("/api/v1/caldav", data=deep, headers=JSON), 401)
    api = calendar.api(member)
    body = problem(api.request("POST", "caldav", data=deep, headers=JSON), 400)
    assert "nested" in body["detail"]
    account = {"url": "https://dav.example.com/", "username": "ana\x0b", "password": "x"}
    body = problem(api.post("caldav", account), 422)
    assert "U+000B" in body["errors"]["username"][0]
    surrogate = '{"url": "https://dav.example.com/", "username": "\\udc00", "password": "x"}'
    body = problem(api.request("POST", "caldav", data=surrogate, headers=JSON), 422)
    assert "surrogate" in body["errors"]["username"][0]
    assert api.ok("GET", "caldav")["items"] == []


def test_a_line_break_in_my_name_never_breaks_my_feed(calendar, member, deal):
    member.ok("PATCH", "me", {"name": "Ana\nPopescu"})
    member.task(deal, "2026-12-01T09:30:00+01:00", "Call back")
    calendar.catch_up()
    url = calendar.new_feed(member)

    for suffix in ("", "?format=todos"):
        response = calendar.get(url + suffix)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert not FORBIDDEN_IN_ICALENDAR.search(response.data)
        served = Calendar.from_ical(response.data)
        assert served["NAME"] == served["X-WR-CALNAME"] == "cardcrm tasks (Ana Popescu)"


def test_control_characters_stored_in_a_task_never_reach_the_feed(
    calendar, member, stored_before_the_rule
):
    calendar.catch_up()
    url = calendar.new_feed(member)
    for suffix in ("", "?format=todos"):
        response = calendar.get(url + suffix)
        assert response.status_code == 200
        assert not FORBIDDEN_IN_ICALENDAR.search(response.data), response.data
        (component,) = Calendar.from_ical(response.data).walk("VEVENT" if not suffix else "VTODO")
        assert component["SUMMARY"] == "CallAna back — ACME: 40 chairs"


def test_control_characters_stored_in_a_task_never_reach_a_caldav_server(
    calendar, member, stored_before_the_rule, radicale
):
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    report = calendar.sync(account["id"])
    assert report.pushed == 1 and not report.rejected
    (todo,) = calendar_app_of(account).todos()
    assert todo["SUMMARY"] == "CallAna back — ACME: 40 chairs"
    assert not FORBIDDEN_IN_ICALENDAR.search(todo.to_ical())


def test_a_sync_conflict_over_a_task_stored_with_control_characters_is_kept(
    calendar, member, deal, stored_before_the_rule, radicale
):
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    task = stored_before_the_rule

    later = datetime.now(UTC) + timedelta(minutes=5)
    calendar_app_of(account).edit(
        f"task-{task.id}@crm.example.com",
        DUE=datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        LAST_MODIFIED=later,
    )
    member.ok("POST", f"tasks/{task.id}/postpone", {"due": "2026-12-05T09:30:00+01:00"})
    calendar.catch_up()
    calendar.sync(account["id"], pull=True)

    assert member.ok("GET", f"tasks/{task.id}")["due"] == "2026-12-07T08:00:00Z"
    history = member.ok("GET", f"cards/{deal['id']}/history?type=task.sync_conflict")["items"]
    (conflict,) = history
    assert conflict["data"]["losing"]["text"] == "CallAna back"


def test_a_to_do_read_back_keeps_no_control_character_and_no_date_past_the_calendar():
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//app//EN\r\nBEGIN:VTODO\r\nUID:a\r\n"
        b"SUMMARY:Call\x0bback\x1b\r\nDUE:99991231T233000\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    remote = parse_remote(data, "America/New_York")
    assert remote is not None
    assert remote.summary == "Callback"
    assert remote.due is None and remote.due_key is None
