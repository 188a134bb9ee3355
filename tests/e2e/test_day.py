"""One user's day across the three services, each its own process on PostgreSQL.

A colleague gives Ana a task through the API: it is in her Today view, her iCal feed, her CalDAV
calendar (a real Radicale) and her mailbox (a real SMTP server). She ticks it off in her
calendar app, and core has it closed, by her.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import requests
from icalendar import Calendar

from .conftest import add_person, admin_person, connect_caldav, todo_uid, wait_for

pytestmark = pytest.mark.slow


def feed_events(url: str, **params: str) -> dict[str, dict]:
    """The components of an iCal feed by UID, as a calendar app subscribed to it reads them."""
    response = requests.get(url, params=params, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    kind = "VTODO" if params.get("format") == "todos" else "VEVENT"
    return {str(component["UID"]): component for component in calendar.walk(kind)}


def test_a_task_given_through_the_api_reaches_every_place_and_closes_from_the_calendar(stack, smtp):
    boss = admin_person(stack)
    ana = add_person(stack, "ana@example.com", "Ana", timezone="Europe/Bucharest")
    # Ana sets up her day: e-mail for tasks given to her, a feed URL, her CalDAV calendar.
    preferences = ana.notifications.ok("PATCH", "preferences", {"email": "ana@example.com"})
    assert preferences["assigned"] is True and preferences["timezone"] == "Europe/Bucharest"
    feed_url = ana.calendar.ok("POST", "feed", status=201)["url"]
    assert feed_url.startswith(stack.urls["calendar"] + "/feeds/")
    account, calendar_app = connect_caldav(ana, stack.radicale)

    product = boss.core.ok("POST", "products", {"name": "Sales", "template": "sales"}, status=201)
    boss.core.ok(
        "PUT",
        f"products/{product['id']}/members",
        {"items": [{"user_id": ana.id, "own_cards_only": False}]},
    )
    card = boss.core.ok(
        "POST", f"products/{product['id']}/cards", {"title": "ACME: 40 chairs"}, status=201
    )
    zone = ZoneInfo("Europe/Bucharest")
    today = datetime.now(zone).date()
    # Later today (a deadline that has passed is overdue, not due): 23:59 local, or 15:30.
    due = datetime.combine(
        today, time(23, 59) if datetime.now(zone).hour >= 15 else time(15, 30), zone
    )
    task = boss.core.ok(
        "POST",
        f"cards/{card['id']}/tasks",
        {"text": "Call ACME about the chairs", "due": due.isoformat(), "assignee_id": ana.id},
        status=201,
    )
    due_utc = due.astimezone(UTC)
    assert task["due"] == due_utc.isoformat().replace("+00:00", "Z")

    # The Today view: due today, with its card and product.
    view = ana.core.ok("GET", f"today?from={today}&to={today}")
    assert view["period"]["timezone"] == "Europe/Bucharest"
    assert view["totals"] == {"due": 1, "overdue": 0, "closed": 0, "postponed": 0}
    [listed] = view["tasks"]
    assert (listed["id"], listed["card"]["title"], listed["product"]["name"]) == (
        task["id"],
        "ACME: 40 chairs",
        "Sales",
    )

    # The iCal feed (the calendar worker mirrors core's feed): an event at the deadline.
    uid = todo_uid(stack, task)
    events = wait_for(lambda: feed_events(feed_url).get(uid), 15, "the task in the iCal feed")
    assert events["DTSTART"].dt == due_utc
    assert str(events["SUMMARY"]) == "Call ACME about the chairs — ACME: 40 chairs"
    assert str(events["URL"]) == f"{stack.urls['core']}/cards/{card['id']}"
    assert uid in feed_events(feed_url, format="todos")

    # The CalDAV server: a to-do, pushed by the worker.
    todo = wait_for(lambda: calendar_app.by_uid().get(uid), 15, "the to-do in Radicale")
    assert todo["DUE"].dt == due_utc
    assert str(todo["STATUS"]) == "NEEDS-ACTION"

    # The e-mail, through the SMTP server; and the same notification in the in-app inbox.
    [message] = wait_for(lambda: smtp.messages_to("ana@example.com"), 15, "the e-mail")
    assert message["Subject"] == "Boss assigned you a task: Call ACME about the chairs"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert f"{stack.urls['core']}/cards/{card['id']}" in body
    [item] = wait_for(lambda: ana.notifications.ok("GET", "inbox")["items"], 15, "the inbox")
    assert (item["title"], item["card_id"]) == (message["Subject"], card["id"])

    # Ana ticks the to-do off in her calendar app: core closes the task, as hers.
    calendar_app.edit(uid, STATUS="COMPLETED", COMPLETED=datetime.now(UTC).replace(microsecond=0))
    closed = wait_for(
        lambda: (t := ana.core.ok("GET", f"tasks/{task['id']}"))["status"] == "done" and t,
        15,
        "the task closed in core",
    )
    assert closed["closed_at"] is not None
    history = ana.core.ok("GET", f"cards/{card['id']}/history")["items"]
    closing = [entry for entry in history if entry["type"] == "task.closed"]
    assert [entry["user_id"] for entry in closing] == [ana.id]
    view = ana.core.ok("GET", f"today?from={today}&to={today}")
    assert view["totals"] == {"due": 0, "overdue": 0, "closed": 1, "postponed": 0}
    assert view["tasks"] == []

    # Closed, it stays in the calendar as completed (for 7 days, so the tick the phone shows
    # stays) and leaves the feed; no other e-mail went out.
    wait_for(
        lambda: str(calendar_app.by_uid().get(uid, {}).get("STATUS")) == "COMPLETED",
        15,
        "the to-do to be completed in Radicale",
    )
    wait_for(lambda: uid not in feed_events(feed_url), 15, "the event to leave the feed")

    def in_sync() -> bool:  # the round that completed the to-do has noted it
        state = ana.calendar.ok("GET", f"caldav/{account['id']}")
        return (state["pending"], state["last_error"]) == (0, None)

    wait_for(in_sync, 15, "the CalDAV account to show nothing pending and no error")
    assert len(smtp.messages_to("ana@example.com")) == 1
