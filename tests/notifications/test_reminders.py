"""Reminders of tasks due soon: scheduled from the feed, moved by a postponement or a new
deadline, cancelled by closing, deleting or trashing, and sent once even if their moment
passed while the service was down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cardcrm.notifications.worker import Worker

from .helpers import iso, sales_card

MINUTES = 15


@pytest.fixture
def reminded(member, notifications):
    notifications(member).preferences(due_reminder_minutes=MINUTES, assigned=False)
    return notifications(member)


@pytest.fixture
def card(admin, member):
    return sales_card(admin, member)


def reminders_in(api):
    return [item for item in api.inbox() if item["rule"] == "due_reminder"]


def at_reminder_time(worker, clock, due, minutes=MINUTES):
    clock.set(due - timedelta(minutes=minutes))
    return worker.drain()


def test_a_postponement_moves_the_reminder_to_the_new_deadline(
    member, reminded, card, worker, clock
):
    due = clock.now + timedelta(hours=1)
    task = member.task(card, iso(due), "Send the quote")
    worker.drain()

    later = due + timedelta(days=1)
    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": iso(later)})
    at_reminder_time(worker, clock, due)
    clock.advance(minutes=30)
    worker.drain()
    assert reminders_in(reminded) == []

    at_reminder_time(worker, clock, later)
    [item] = reminders_in(reminded)
    assert "Send the quote" in item["title"]


def test_a_new_deadline_set_by_an_edit_moves_the_reminder_earlier(
    member, reminded, card, worker, clock
):
    due = clock.now + timedelta(days=2)
    task = member.task(card, iso(due), "Prepare the demo")
    sooner = clock.now + timedelta(hours=2)
    member.ok("PATCH", f"tasks/{task['id']}", {"due": iso(sooner)})

    at_reminder_time(worker, clock, sooner)
    assert len(reminders_in(reminded)) == 1


@pytest.mark.parametrize("how", ["closed", "cancelled", "deleted", "card trashed"])
def test_a_task_closed_deleted_or_trashed_before_its_reminder_gets_none(
    member, reminded, card, worker, clock, how
):
    due = clock.now + timedelta(hours=1)
    task = member.task(card, iso(due), "Call back")
    worker.drain()
    if how in ("closed", "cancelled"):
        outcome = "done" if how == "closed" else "cancelled"
        member.ok("POST", f"tasks/{task['id']}/close", {"outcome": outcome})
    elif how == "deleted":
        assert member.delete(f"tasks/{task['id']}").status_code == 204
    else:
        member.delete(f"cards/{card['id']}")

    at_reminder_time(worker, clock, due)
    assert reminders_in(reminded) == []


def test_a_task_created_moved_and_closed_between_two_looks_of_the_worker_gets_none(
    member, reminded, card, worker, clock
):
    due = clock.now + timedelta(hours=1)
    task = member.task(card, iso(due), "Quick one")
    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": iso(due + timedelta(hours=1))})
    member.ok("POST", f"tasks/{task['id']}/close", {})
    other = member.task(card, iso(due), "Still open")
    worker.drain()  # all four events in one batch of the follower
    at_reminder_time(worker, clock, due)
    assert [item["title"] for item in reminders_in(reminded)] == [
        f"Due {clock.now + timedelta(minutes=MINUTES):%d %b %H:%M}: Still open"
    ], other


def test_a_restored_card_brings_its_reminders_back(member, reminded, card, worker, clock):
    due = clock.now + timedelta(hours=3)
    member.task(card, iso(due), "Call back")
    member.delete(f"cards/{card['id']}")
    worker.drain()
    member.ok("POST", f"cards/{card['id']}/restore")
    at_reminder_time(worker, clock, due)
    assert len(reminders_in(reminded)) == 1


def test_a_reminder_whose_moment_passed_while_the_service_was_down_is_sent_once_on_start(
    member, reminded, card, worker, settings, clock, smtp
):
    reminded.preferences(email=member.user.email)
    due = clock.now + timedelta(hours=1)
    member.task(card, iso(due), "Sign the contract")
    worker.follow()
    worker.context.close()  # the service goes down before the reminder's moment

    clock.set(due - timedelta(minutes=5))  # ...and comes back 10 minutes late
    restarted = Worker(settings, clock=clock)
    try:
        restarted.drain()
        restarted.drain()
        clock.advance(minutes=20)
        restarted.drain()
    finally:
        restarted.context.close()
    assert len(reminders_in(reminded)) == 1
    assert len(smtp.wait_for(1)) == 1


def test_a_reminder_missed_while_down_is_not_sent_if_core_says_the_task_was_closed(
    member, reminded, card, worker, clock
):
    due = clock.now + timedelta(hours=1)
    task = member.task(card, iso(due), "Call back")
    worker.follow()
    member.ok("POST", f"tasks/{task['id']}/close", {})
    clock.set(due)
    assert worker.schedule() == 0  # the feed has not told us yet; core has
    worker.drain()
    assert reminders_in(reminded) == []


def test_a_reminder_long_after_its_deadline_is_not_sent(member, reminded, card, worker, clock):
    due = clock.now + timedelta(hours=1)
    member.task(card, iso(due), "Call back")
    worker.follow()
    clock.set(due + timedelta(days=2))
    worker.drain()
    assert reminders_in(reminded) == []


def test_changing_the_reminder_minutes_moves_the_reminders_of_open_tasks(
    member, reminded, card, worker, clock
):
    due = clock.now + timedelta(hours=5)
    member.task(card, iso(due), "Call back")
    worker.drain()
    reminded.preferences(due_reminder_minutes=120)
    at_reminder_time(worker, clock, due, minutes=120)
    assert len(reminders_in(reminded)) == 1

    reminded.preferences(due_reminder_minutes=None)
    later = member.task(card, iso(due + timedelta(hours=1)), "Another")
    at_reminder_time(worker, clock, due + timedelta(hours=1), minutes=0)
    assert len(reminders_in(reminded)) == 1, later


def test_a_reassigned_task_reminds_its_new_assignee(
    admin, member, new_user, notifications, worker, clock
):
    ana = new_user("ana@example.com")
    card = sales_card(admin, member, members=(ana,))
    notifications(ana).preferences(due_reminder_minutes=10, assigned=False)
    notifications(member).preferences(due_reminder_minutes=10)
    due = clock.now + timedelta(hours=1)
    task = member.task(card, iso(due), "Visit the site")
    worker.drain()
    member.ok("PATCH", f"tasks/{task['id']}", {"assignee_id": ana.user.id})
    at_reminder_time(worker, clock, due, minutes=10)
    assert reminders_in(notifications(member)) == []
    assert len(reminders_in(notifications(ana))) == 1


def test_the_next_occurrence_of_a_recurring_task_closed_by_someone_else_is_no_assignment(
    admin, member, notifications, card, worker, clock
):
    due = clock.now + timedelta(hours=1)
    task = admin.task(
        card, iso(due), "Weekly report", assignee_id=member.user.id, repeat={"freq": "weekly"}
    )
    admin.ok("POST", f"tasks/{task['id']}/close", {})
    worker.drain()
    items = notifications(member).inbox()
    assert [item["rule"] for item in items] == ["assigned"]  # the first one only
