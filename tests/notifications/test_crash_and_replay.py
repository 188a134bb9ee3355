"""Crashes and replays: the worker stopped at any point loses nothing, and handling an event
twice never sends twice where that can be avoided (e-mail: recognisably the same message)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cardcrm.notifications.deliveries import dispatcher as dispatcher_module
from cardcrm.notifications.events import EventCursor
from cardcrm.notifications.worker import Worker
from sqlalchemy import update

from .helpers import iso, sales_card


@pytest.fixture
def mailed(member, notifications):
    notifications(member).preferences(email=member.user.email)
    return notifications(member)


def assign(admin, member, clock, text="Call the customer"):
    card = sales_card(admin, member)
    return admin.task(card, iso(clock.now + timedelta(days=1)), text, assignee_id=member.user.id)


def test_the_worker_stopped_between_receiving_an_event_and_sending_loses_nothing(
    admin, member, mailed, worker, settings, clock, smtp
):
    assign(admin, member, clock)
    assert worker.follow() > 0  # the event is received and its deliveries recorded...
    worker.context.close()  # ...and the worker stops before sending anything

    assert smtp.messages == []
    assert {item["state"] for item in mailed.deliveries()} == {"pending"}

    restarted = Worker(settings, clock=clock)
    try:
        counts = restarted.drain()
        assert counts == {"events": 0, "scheduled": 0, "delivered": 2}
        assert restarted.drain()["delivered"] == 0
    finally:
        restarted.context.close()
    assert len(smtp.wait_for(1)) == 1
    assert len(mailed.inbox()) == 1


def test_a_crash_while_sending_sends_again_after_the_lease_with_the_same_message_id(
    admin, member, mailed, worker, settings, clock, smtp, monkeypatch
):
    assign(admin, member, clock)
    worker.follow()
    real_finish = dispatcher_module.finish

    def power_cut(session, delivery, now, state, *args, **kwargs):
        if delivery.channel == "email" and state == "sent":
            raise SystemExit("power cut after the SMTP server accepted the message")
        return real_finish(session, delivery, now, state, *args, **kwargs)

    monkeypatch.setattr(dispatcher_module, "finish", power_cut)
    with pytest.raises(SystemExit):
        worker.deliver()
    monkeypatch.setattr(dispatcher_module, "finish", real_finish)
    assert len(smtp.wait_for(1)) == 1
    [email] = mailed.deliveries(channel="email")
    assert email["state"] == "sending"  # visible: it may or may not have left

    restarted = Worker(settings, clock=clock)
    try:
        assert restarted.drain()["delivered"] == 0  # the e-mail waits for its lease to run out
        clock.advance(seconds=121)
        assert restarted.drain()["delivered"] == 1
    finally:
        restarted.context.close()

    first, second = smtp.wait_for(2)
    assert first["Message-ID"] == second["Message-ID"]  # at least once, recognisably
    [email] = mailed.deliveries(channel="email")
    assert (email["state"], email["attempts"]) == ("sent", 2)
    assert len(mailed.inbox()) == 1


def test_handling_the_same_events_twice_sends_nothing_twice(
    admin, member, mailed, worker, clock, smtp
):
    assign(admin, member, clock, "First")
    assign(admin, member, clock, "Second")
    worker.drain()
    assert len(smtp.wait_for(2)) == 2

    with worker.context.db.writer.begin() as session:
        session.execute(update(EventCursor).values(last_id=0))  # as if the cursor were lost
    counts = worker.drain()

    assert counts["events"] > 0 and counts["delivered"] == 0
    assert len(smtp.messages) == 2
    assert len(mailed.inbox()) == 2
    assert len(mailed.deliveries()) == 4


def test_one_event_handled_twice_in_a_row_records_one_notification(
    admin, member, mailed, worker, clock
):
    assign(admin, member, clock)
    event = worker.follower.client.events(0, 100)["items"][-1]
    for _ in range(2):
        with worker.context.db.writer.begin() as session:
            worker.handler(session, event)
    worker.drain()
    assert len(mailed.deliveries()) == 2  # e-mail and in-app, once each


def test_an_event_this_version_cannot_read_is_logged_and_passed_over(worker, caplog):
    strange = {"id": 10**9, "type": "task.created", "at": "2026-11-27T10:00:00Z", "data": {"id": 1}}
    with worker.context.db.writer.begin() as session:
        worker.handler(session, strange)
    assert "cannot follow event 1000000000" in caplog.text
