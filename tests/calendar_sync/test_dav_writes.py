"""Writes through cardcrm's CalDAV server (``dav/writes.py``): what a calendar app PUTs or
DELETEs becomes the user's change in core, over real HTTP, or a CalDAV refusal that changes
nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cardcrm.calendar_sync.dav.write_models import DavInbox, DavObject
from cardcrm.calendar_sync.dav.writes import (
    DavRefusal,
    apply_delete,
    apply_put,
    client_uid,
    task_of_uid,
)
from cardcrm.calendar_sync.models import MirrorCard, MirrorTask
from cardcrm.sidecar.core_client import CoreClient
from icalendar import Calendar, Event, Todo
from icalendar.prop import vRecur
from sqlalchemy import select

from .conftest import free_port

CALDAV = "{urn:ietf:params:xml:ns:caldav}"


@pytest.fixture
def deal(member, sales) -> dict:
    return member.card(sales, "ACME: 40 chairs")


def as_user(api: Any, language: str = "en") -> dict:
    """The user as dav-server's views hand it over."""
    user = api.user
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "timezone": user.timezone,
        "is_admin": user.is_admin,
        "language": language,
    }


def held(calendar, task: dict, kind: str = "VTODO") -> tuple[Calendar, dict]:
    """What a calendar app holds for ``task`` (cardcrm's rendering), and the mirror's data
    of the task (what dav-server hands over as ``current``)."""
    calendar.catch_up()
    context = calendar.context
    with context.database.session() as session:
        mirrored = session.get(MirrorTask, task["id"])
        card = session.get(MirrorCard, mirrored.card_id)
        component = context.renderer.component(
            Todo() if kind == "VTODO" else Event(), mirrored, card
        )
        data = dict(mirrored.data)
    document = Calendar()
    document.add("PRODID", "-//a calendar app//EN")
    document.add("VERSION", "2.0")
    document.add_component(component)
    return document, data


def edited(document: Calendar, **changes: Any) -> bytes:
    """``document`` with its component's properties changed as an app would (``None``
    removes one)."""
    component = document.subcomponents[0]
    for name, value in changes.items():
        name = name.replace("_", "-")
        component.pop(name, None)
        if value is not None:
            component.add(name, value)
    return document.to_ical()


def put(calendar, user: Any, collection: str, current: dict | None, body: bytes) -> dict:
    with calendar.app.app_context():
        return apply_put(as_user(user), collection, current, body)


def refused(calendar, user: Any, collection: str, current: dict | None, body: bytes) -> Any:
    with pytest.raises(DavRefusal) as caught:
        put(calendar, user, collection, current, body)
    return caught.value


def history(user, card: dict, kind: str) -> list[dict]:
    return user.ok("GET", f"cards/{card['id']}/history?type={kind}")["items"]


def notes(user, card: dict) -> list[dict]:
    return user.ok("GET", f"cards/{card['id']}/notes")["items"]


# --- changes of an existing object ------------------------------------------------------------


@pytest.mark.parametrize(
    "completion",
    [
        {"STATUS": "COMPLETED"},
        {"COMPLETED": datetime(2026, 11, 30, 12, 0, tzinfo=UTC)},
        {"PERCENT_COMPLETE": 100},
    ],
    ids=["status", "completed", "percent"],
)
def test_completing_a_to_do_closes_the_task_as_done_by_the_user(calendar, member, deal, completion):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)

    after = put(calendar, member, "tasks", current, edited(document, **completion))

    assert after["status"] == "done" and after["closed_by_id"] == member.user.id
    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "done"
    [closed] = history(member, deal, "task.closed")
    assert closed["user_id"] == member.user.id and closed["data"]["outcome"] == "done"


def test_cancelling_a_to_do_or_an_event_cancels_the_task(calendar, member, deal):
    todo = member.task(deal, "2026-12-01T09:30:00+01:00", "A to-do")
    event = member.task(deal, "2026-12-02T09:30:00+01:00", "An event")
    document, current = held(calendar, todo)
    put(calendar, member, "tasks", current, edited(document, STATUS="CANCELLED"))
    document, current = held(calendar, event, "VEVENT")
    put(calendar, member, "deadlines", current, edited(document, STATUS="CANCELLED"))

    assert member.ok("GET", f"tasks/{todo['id']}")["status"] == "cancelled"
    assert member.ok("GET", f"tasks/{event['id']}")["status"] == "cancelled"


def test_deleting_an_object_cancels_its_task(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    _, current = held(calendar, task)

    with calendar.app.app_context():
        after = apply_delete(as_user(member), current)

    assert after["status"] == "cancelled"
    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "cancelled"
    [closed] = history(member, deal, "task.closed")
    assert closed["data"]["outcome"] == "cancelled" and closed["user_id"] == member.user.id


def test_a_later_due_postpones_the_task_and_an_earlier_one_edits_it(calendar, member, deal):
    later = member.task(deal, "2026-12-01T09:30:00+01:00", "Later")
    earlier = member.task(deal, "2026-12-03", "Earlier", all_day=True)

    document, current = held(calendar, later)
    moved = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    put(calendar, member, "tasks", current, edited(document, DUE=moved))
    document, current = held(calendar, earlier)
    put(calendar, member, "tasks", current, edited(document, DUE=date(2026, 12, 2)))

    postponed = member.ok("GET", f"tasks/{later['id']}")
    assert postponed["due"] == "2026-12-04T08:00:00Z" and postponed["postponed_count"] == 1
    assert [item["data"]["after"]["due"] for item in history(member, deal, "task.postponed")] == [
        "2026-12-04T08:00:00Z"
    ]
    edit = member.ok("GET", f"tasks/{earlier['id']}")
    assert edit["due_date"] == "2026-12-02" and edit["all_day"] is True
    assert edit["postponed_count"] == 0


def test_moving_an_event_of_the_deadlines_calendar_moves_the_task(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task, "VEVENT")
    start = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)

    put(
        calendar,
        member,
        "deadlines",
        current,
        edited(document, DTSTART=start, DTEND=start + timedelta(minutes=30)),
    )

    after = member.ok("GET", f"tasks/{task['id']}")
    assert after["due"] == "2026-12-02T10:00:00Z" and after["postponed_count"] == 1


def test_a_date_for_a_timed_task_makes_it_all_day(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)

    put(calendar, member, "tasks", current, edited(document, DUE=date(2026, 12, 5)))

    after = member.ok("GET", f"tasks/{task['id']}")
    assert after["all_day"] is True and after["due_date"] == "2026-12-05"


def test_the_summary_is_the_tasks_text_without_the_cards_title(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)

    put(
        calendar,
        member,
        "tasks",
        current,
        edited(document, SUMMARY="Call Ana and Ion back — ACME: 40 chairs"),
    )

    assert member.ok("GET", f"tasks/{task['id']}")["text"] == "Call Ana and Ion back"
    [update] = history(member, deal, "task.updated")
    assert update["data"]["changes"]["text"] == {
        "before": "Call Ana back",
        "after": "Call Ana and Ion back",
    }
    # A summary without the title (an app that shortened it) is the whole text.
    document, current = held(calendar, task)
    put(calendar, member, "tasks", current, edited(document, SUMMARY="Call Ion"))
    assert member.ok("GET", f"tasks/{task['id']}")["text"] == "Call Ion"


def test_a_put_that_changes_nothing_changes_nothing(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)

    after = put(calendar, member, "tasks", current, document.to_ical())
    document, current = held(calendar, task, "VEVENT")
    put(calendar, member, "deadlines", current, document.to_ical())

    assert after["version"] == task["version"]
    assert member.ok("GET", f"tasks/{task['id']}")["version"] == task["version"]
    assert notes(member, deal) == []


def test_the_description_beyond_cardcrms_lines_is_the_tasks_note_on_its_card(
    calendar, member, deal
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)
    description = str(document.subcomponents[0]["DESCRIPTION"])
    assert "Card: ACME: 40 chairs" in description  # cardcrm's lines, not a note

    mine = description.replace("Call Ana back\n", "Call Ana back\nAsk about the blue ones.\n")
    put(calendar, member, "tasks", current, edited(document, DESCRIPTION=mine))
    [note] = notes(member, deal)
    assert note["body"] == "Ask about the blue ones."
    assert note["author_id"] == member.user.id

    # The same description again (with another change) writes no second note...
    document, current = held(calendar, task)
    put(calendar, member, "tasks", current, edited(document, DESCRIPTION=mine, STATUS="COMPLETED"))
    assert [item["body"] for item in notes(member, deal)] == ["Ask about the blue ones."]
    # ...another one edits the note; a description without one leaves it be.
    document, current = held(calendar, task)
    put(calendar, member, "tasks", current, edited(document, DESCRIPTION="Red ones, after all."))
    document, current = held(calendar, task)
    put(calendar, member, "tasks", current, document.to_ical())
    [note] = notes(member, deal)
    assert note["body"] == "Red ones, after all."
    assert member.ok("GET", f"tasks/{task['id']}")["text"] == "Call Ana back"


def test_un_completing_a_closed_to_do_reopens_the_task(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)
    member.ok("POST", f"tasks/{task['id']}/close")
    _, current = held(calendar, task)
    assert current["status"] == "done"

    after = put(calendar, member, "tasks", current, edited(document, STATUS="NEEDS-ACTION"))

    assert after["status"] == "open"
    assert len(history(member, deal, "task.reopened")) == 1


def test_a_task_changed_in_core_meanwhile_gets_a_412_and_keeps_that_change(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)
    member.ok("PATCH", f"tasks/{task['id']}", {"text": "Call Ana at noon"})

    refusal = refused(calendar, member, "tasks", current, edited(document, STATUS="COMPLETED"))

    assert refusal.status == 412
    after = member.ok("GET", f"tasks/{task['id']}")
    assert after["status"] == "open" and after["text"] == "Call Ana at noon"


# --- refusals ---------------------------------------------------------------------------------


def test_what_cardcrm_cannot_represent_is_refused_with_its_precondition(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)
    event_document, _ = held(calendar, task, "VEVENT")
    two = Calendar.from_ical(document.to_ical())
    second = Todo()
    second.add("UID", "another@example.com")
    second.add("SUMMARY", "Another")
    two.add_component(second)
    exception = Calendar.from_ical(document.to_ical())
    moved = Todo.from_ical(document.subcomponents[0].to_ical())
    moved.add("RECURRENCE-ID", datetime(2026, 12, 8, 8, 30, tzinfo=UTC))
    exception.add_component(moved)
    cases = {
        "repeat": (
            "tasks",
            edited(Calendar.from_ical(document.to_ical()), RRULE={"FREQ": "WEEKLY"}),
            f"{CALDAV}valid-calendar-object-resource",
        ),
        "event in tasks": (
            "tasks",
            event_document.to_ical(),
            f"{CALDAV}supported-calendar-component",
        ),
        "to-do in deadlines": (
            "deadlines",
            document.to_ical(),
            f"{CALDAV}supported-calendar-component",
        ),
        "two": ("tasks", two.to_ical(), f"{CALDAV}valid-calendar-object-resource"),
        "exception": ("tasks", exception.to_ical(), f"{CALDAV}valid-calendar-object-resource"),
        "garbage": ("tasks", b"BEGIN:VCALENDAR\r\nthis is not", f"{CALDAV}valid-calendar-data"),
        "binary": ("tasks", b"\xff\xfe\x00", f"{CALDAV}valid-calendar-data"),
        "no due": (
            "tasks",
            edited(Calendar.from_ical(document.to_ical()), DUE=None),
            f"{CALDAV}valid-calendar-object-resource",
        ),
        "other uid": (
            "tasks",
            edited(Calendar.from_ical(document.to_ical()), UID="mine@example.com"),
            f"{CALDAV}valid-calendar-object-resource",
        ),
        "past the calendar": (
            "tasks",
            edited(Calendar.from_ical(document.to_ical()), DUE=date(1, 1, 1)),
            f"{CALDAV}valid-calendar-data",
        ),
        "too long": (
            "tasks",
            edited(Calendar.from_ical(document.to_ical()), SUMMARY="x" * 2001),
            f"{CALDAV}valid-calendar-object-resource",
        ),
    }

    for name, (collection, body, condition) in cases.items():
        refusal = refused(calendar, member, collection, current, body)
        assert (refusal.status, refusal.condition) == (403, condition), (name, refusal)
        assert refusal.message, name

    after = member.ok("GET", f"tasks/{task['id']}")
    assert after["version"] == task["version"] and after["status"] == "open"
    assert notes(member, deal) == []


def test_a_task_the_user_may_not_change_is_refused_as_a_missing_privilege(
    calendar, member, admin, deal, new_user, sales
):
    ana = new_user("ana@example.com")
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)

    refusal = refused(calendar, ana, "tasks", current, edited(document, STATUS="COMPLETED"))

    assert (refusal.status, refusal.condition) == (403, "{DAV:}need-privileges")
    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "open"


def test_core_unreachable_is_a_503(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    document, current = held(calendar, task)
    working = calendar.context.core
    calendar.context.core = CoreClient(f"http://127.0.0.1:{free_port()}", "token", timeout=2)
    try:
        refusal = refused(calendar, member, "tasks", current, edited(document, STATUS="COMPLETED"))
    finally:
        calendar.context.core.close()
        calendar.context.core = working

    assert refusal.status == 503
    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "open"


# --- new objects ----------------------------------------------------------------------------


def new_object(kind: str = "VTODO", uid: str = "phone-1@example.com", **properties: Any) -> bytes:
    component = Todo() if kind == "VTODO" else Event()
    component.add("UID", uid)
    component.add("DTSTAMP", datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    for name, value in properties.items():
        component.add(name.replace("_", "-"), value)
    document = Calendar()
    document.add("PRODID", "-//a calendar app//EN")
    document.add("VERSION", "2.0")
    document.add_component(component)
    return document.to_ical()


def test_a_new_to_do_becomes_a_task_on_the_users_inbox_card(calendar, member, sales):
    task = put(
        calendar,
        member,
        "tasks",
        None,
        new_object(SUMMARY="Buy stamps", DUE=date(2026, 12, 9), DESCRIPTION="The blue ones"),
    )
    event = put(
        calendar,
        member,
        "deadlines",
        None,
        new_object(
            "VEVENT",
            uid="phone-2@example.com",
            SUMMARY="Meet Ion",
            DTSTART=datetime(2026, 12, 10, 15, 0, tzinfo=UTC),
        ),
    )

    assert task["text"] == "Buy stamps" and task["due_date"] == "2026-12-09" and task["all_day"]
    assert task["assignee_id"] == member.user.id and task["status"] == "open"
    assert event["due"] == "2026-12-10T15:00:00Z" and event["card_id"] == task["card_id"]
    inbox = member.ok("GET", f"cards/{task['card_id']}")
    assert inbox["title"] == "Calendar inbox" and inbox["owner_id"] == member.user.id
    assert inbox["product_id"] == sales["id"]
    [note] = notes(member, inbox)
    assert note["body"] == "The blue ones"
    # The client's UIDs are kept, so the app finds its objects again.
    with calendar.context.database.session() as session:
        assert client_uid(session, task["id"]) == "phone-1@example.com"
        assert task_of_uid(session, member.user.id, "phone-2@example.com") == event["id"]
        assert session.get(DavInbox, member.user.id).card_id == inbox["id"]


def test_the_inbox_card_is_named_in_the_users_language(calendar, member, sales):
    task = put_in(calendar, member, "ro", new_object(SUMMARY="Timbre", DUE=date(2026, 12, 9)))

    assert member.ok("GET", f"cards/{task['card_id']}")["title"] == "Intrări din calendar"


def put_in(calendar, user: Any, language: str, body: bytes) -> dict:
    with calendar.app.app_context():
        return apply_put(as_user(user, language), "tasks", None, body)


def test_a_new_to_do_without_a_deadline_is_due_today_and_a_completed_one_is_done(
    calendar, member, sales
):
    task = put(calendar, member, "tasks", None, new_object(SUMMARY="Buy stamps"))
    done = put(
        calendar,
        member,
        "tasks",
        None,
        new_object(uid="phone-2@example.com", SUMMARY="Done already", STATUS="COMPLETED"),
    )

    today = calendar.context.clock().astimezone(UTC).date().isoformat()
    assert task["due_date"] == today and task["all_day"] is True
    assert done["status"] == "done"


def test_a_deleted_inbox_card_is_made_again(calendar, member, sales):
    first = put(calendar, member, "tasks", None, new_object(SUMMARY="One", DUE=date(2026, 12, 9)))
    member.ok("DELETE", f"cards/{first['card_id']}", status=204)

    second = put(
        calendar,
        member,
        "tasks",
        None,
        new_object(uid="phone-2@example.com", SUMMARY="Two", DUE=date(2026, 12, 9)),
    )

    assert second["card_id"] != first["card_id"]
    assert member.ok("GET", f"cards/{second['card_id']}")["title"] == "Calendar inbox"


def test_new_objects_cardcrm_cannot_take_are_refused(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    put(calendar, member, "tasks", None, new_object(SUMMARY="Mine", DUE=date(2026, 12, 9)))
    cases = {
        "uid in use": (new_object(SUMMARY="Again", DUE=date(2026, 12, 9)), 409),
        "cardcrm's uid": (
            new_object(uid=f"task-{task['id']}@crm.example.com", SUMMARY="x"),
            409,
        ),
        "no summary": (new_object(uid="phone-3@example.com", DUE=date(2026, 12, 9)), 403),
        "repeating": (
            new_object(uid="phone-4@example.com", SUMMARY="Weekly", RRULE={"FREQ": "WEEKLY"}),
            403,
        ),
    }
    for name, (body, status) in cases.items():
        refusal = refused(calendar, member, "tasks", None, body)
        assert refusal.status == status, (name, refusal)
    with calendar.context.database.session() as session:
        assert len(session.scalars(select(DavObject)).all()) == 1


def test_a_user_who_may_add_cards_nowhere_is_refused_a_new_object(calendar, new_user):
    nobody = new_user("nobody@example.com")

    refusal = refused(
        calendar, nobody, "tasks", None, new_object(SUMMARY="Lost?", DUE=date(2026, 12, 9))
    )

    assert (refusal.status, refusal.condition) == (403, "{DAV:}need-privileges")
    with calendar.context.database.session() as session:
        assert session.get(DavInbox, nobody.user.id) is None


def test_what_a_plugin_adds_to_the_summary_and_description_is_no_change(
    calendar_settings, member, deal
):
    from types import SimpleNamespace

    from cardcrm.calendar_sync import create_app
    from cardcrm.core.hookspecs import hookimpl

    from .conftest import CalendarService

    @hookimpl
    def cardcrm_calendar_component(component, task, card):
        component["SUMMARY"] = f"[{card['product_id']}] {component['SUMMARY']}"
        component["DESCRIPTION"] = f"{component['DESCRIPTION']}\n\nAdded by a plugin."

    plugin = SimpleNamespace(cardcrm_calendar_component=cardcrm_calendar_component)
    service = CalendarService(create_app({**calendar_settings, "PLUGINS": [plugin]}), type(member))
    try:
        task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
        document, current = held(service, task)
        assert str(document.subcomponents[0]["SUMMARY"]).startswith("[")
        after = put(service, member, "tasks", current, edited(document, STATUS="COMPLETED"))
    finally:
        service.sync_worker.close()
        service.context.close()

    assert after["status"] == "done" and after["text"] == "Call Ana back"
    assert notes(member, deal) == []


# --- recurring to-dos (issue 19) ----------------------------------------------------------------


def test_completing_a_recurring_to_do_with_its_rule_untouched_closes_that_occurrence(
    calendar, member, deal
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Weekly call", repeat={"freq": "weekly"})
    document, current = held(calendar, task)
    rule = document.subcomponents[0]["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"]
    # the same rule as an app may write it back: INTERVAL=1 spelled out
    same = vRecur.from_ical(rule.to_ical().decode() + ";INTERVAL=1")

    after = put(
        calendar, member, "tasks", current, edited(document, RRULE=same, STATUS="COMPLETED")
    )

    assert after["status"] == "done"
    [following] = [
        item for item in history(member, deal, "task.created") if item["data"].get("repeat_of")
    ]
    assert following["data"]["repeat_of"] == task["id"]
    assert following["data"]["task"]["due"] == "2026-12-08T08:30:00Z"


def test_a_changed_or_added_repeat_of_a_recurring_to_do_is_refused(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Weekly call", repeat={"freq": "weekly"})
    document, current = held(calendar, task)
    rule = document.subcomponents[0]["RRULE"].to_ical().decode()
    cases = {
        "changed": edited(
            Calendar.from_ical(document.to_ical()),
            RRULE=vRecur.from_ical(rule.replace("WEEKLY", "DAILY")),
            STATUS="COMPLETED",
        ),
        "two rules": edited(
            Calendar.from_ical(document.to_ical()),
            RRULE=[vRecur.from_ical(rule), vRecur.from_ical("FREQ=MONTHLY")],
        ),
        "exdate": edited(
            Calendar.from_ical(document.to_ical()),
            EXDATE=datetime(2026, 12, 8, 8, 30, tzinfo=UTC),
            STATUS="COMPLETED",
        ),
    }
    for name, body in cases.items():
        refusal = refused(calendar, member, "tasks", current, body)
        assert (refusal.status, refusal.condition) == (
            403,
            f"{CALDAV}valid-calendar-object-resource",
        ), name
    after = member.ok("GET", f"tasks/{task['id']}")
    assert after["version"] == task["version"] and after["status"] == "open"
