"""Gaps of the two-way sync with an external CalDAV server (Radicale from PyPI, for real): a
to-do un-ticked in the calendar app reopens its task in core, as the user."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import calendar_app_of


def uid(task: dict) -> str:
    return f"task-{task['id']}@crm.example.com"


@pytest.fixture
def deal(member: Any, sales: dict) -> dict:
    return member.card(sales, "ACME: 40 chairs")


@pytest.fixture
def synced(calendar: Any, member: Any, deal: dict, radicale: Any) -> tuple[dict, dict]:
    """A task of the member's, and their account on Radicale that holds its to-do."""
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    return task, account


def test_un_ticking_a_completed_to_do_reopens_the_task_as_the_user(calendar, member, deal, synced):
    task, account = synced
    app = calendar_app_of(account)
    app.edit(uid(task), STATUS="COMPLETED", PERCENT_COMPLETE=100)
    calendar.sync(account["id"], pull=True)
    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "done"
    calendar.catch_up()
    calendar.sync(account["id"])
    assert app.by_uid()[uid(task)]["STATUS"] == "COMPLETED"  # kept, completed

    # The app's user un-ticks it.
    app.edit(uid(task), STATUS="NEEDS-ACTION", COMPLETED=None, PERCENT_COMPLETE=None)
    report = calendar.sync(account["id"], pull=True)

    assert report.pulled == 1
    after = member.ok("GET", f"tasks/{task['id']}")
    assert after["status"] == "open" and after["closed_at"] is None
    reopened = member.ok("GET", f"cards/{deal['id']}/history?type=task.reopened")["items"]
    assert [item["user_id"] for item in reopened] == [member.user.id]
    # The calendar shows it open, and the next rounds change nothing more.
    calendar.catch_up()
    calendar.sync(account["id"])
    todo = app.by_uid()[uid(task)]
    assert todo["STATUS"] == "NEEDS-ACTION" and "COMPLETED" not in todo
    assert calendar.sync(account["id"], pull=True).pulled == 0
    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "open"


def test_a_to_do_not_yet_shown_completed_does_not_reopen_a_task_done_in_cardcrm(
    calendar, member, deal, synced
):
    """The calendar still holds the open to-do (our push of the completion has not happened)
    when its user edits something else: that is no un-ticking, and the task stays done."""
    task, account = synced
    member.ok("POST", f"tasks/{task['id']}/close")
    calendar.catch_up()

    calendar_app_of(account).edit(uid(task), LOCATION="The office")
    calendar.sync(account["id"], pull=True)

    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "done"
    assert str(calendar_app_of(account).by_uid()[uid(task)]["STATUS"]) == "COMPLETED"


def test_a_note_written_in_the_calendar_stays_in_the_to_do_when_cardcrm_pushes_it_again(
    calendar, member, deal, synced
):
    task, account = synced
    app = calendar_app_of(account)
    description = str(app.by_uid()[uid(task)]["DESCRIPTION"])
    mine = description.replace("back\n", "back\nBring the offer.\n")
    app.edit(uid(task), DESCRIPTION=mine)
    calendar.sync(account["id"], pull=True)

    # A change in cardcrm pushes the to-do again: the note is still in it.
    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-03T09:30:00+01:00"})
    calendar.catch_up()
    assert calendar.sync(account["id"]).pushed == 1
    assert str(app.by_uid()[uid(task)]["DESCRIPTION"]) == mine
    assert calendar.sync(account["id"], pull=True).pulled == 0
    notes = member.ok("GET", f"cards/{deal['id']}/notes")["items"]
    assert [note["body"] for note in notes] == ["Bring the offer."]
