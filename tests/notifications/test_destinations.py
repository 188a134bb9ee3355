"""Destinations wait only behind themselves: a slow webhook receiver holds up no one else's
e-mail, a failing one is backed off on its own, and every delivery's times are when its send
happened (not when its batch was claimed)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from cardcrm.notifications.worker import run

from .conftest import Receiver
from .helpers import iso, sales_card

SECRET = "receiver-and-cardcrm-share-this"


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def arrival(smtp, subject_part: str, timeout: float = 15.0) -> float:
    """When (monotonic) the e-mail whose subject has ``subject_part`` reached the server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message, arrived in zip(list(smtp.messages), list(smtp.arrived_at), strict=False):
            if subject_part in message["Subject"]:
                return arrived
        time.sleep(0.02)
    raise AssertionError(f"no e-mail about {subject_part!r} within {timeout}s")


def test_a_slow_webhook_receiver_delays_no_one_elses_email(
    admin, member, new_user, notifications, settings, receiver, smtp
):
    receiver.delay = 10.0  # answers after 10 s (as seen in the field), within the timeout
    notifications(member).preferences(webhook_url=receiver.url, webhook_secret=SECRET)
    colleagues = [new_user(f"colleague{number}@example.com") for number in range(3)]
    for colleague in colleagues:
        notifications(colleague).preferences(email=colleague.user.email)
    member_card = sales_card(admin, member)
    cards = [sales_card(admin, colleague, f"Deal {n}") for n, colleague in enumerate(colleagues)]
    due = iso(datetime.now(UTC) + timedelta(days=2))
    settings = {
        **settings,
        "CLOCK": None,
        "FEED_WAIT_SECONDS": 0.5,
        "POLL_SECONDS": 0.2,
        "WEBHOOK_TIMEOUT_SECONDS": 12.0,
    }
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(settings, stop), daemon=True)
    thread.start()
    try:
        for number in range(12):  # more than the sender threads can take at once
            admin.task(member_card, due, f"Hook {number}", assignee_id=member.user.id)
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests, "the slow webhook is in flight"
        time.sleep(0.5)

        latencies = []
        for colleague, card in zip(colleagues, cards, strict=True):
            started = time.monotonic()
            admin.task(card, due, f"Mail for {colleague.user.email}", assignee_id=colleague.user.id)
            latencies.append(arrival(smtp, f"Mail for {colleague.user.email}") - started)
        print("e-mail latencies with a slow webhook:", [round(x, 2) for x in latencies])
        assert max(latencies) < 1.5, latencies
        # Meanwhile the receiver got its hooks one at a time (10 s each), from one thread.
        assert len(receiver.requests) <= 3
    finally:
        receiver.delay = 0.0
        stop.set()
        thread.join(timeout=40)
    assert not thread.is_alive()


def test_a_failing_receiver_is_backed_off_while_other_receivers_get_theirs(
    admin, member, new_user, notifications, worker, receiver, clock
):
    healthy = Receiver()
    try:
        other = new_user("other@example.com")
        receiver.always_fail = True
        notifications(member).preferences(webhook_url=receiver.url, webhook_secret=SECRET)
        notifications(other).preferences(webhook_url=healthy.url, webhook_secret=SECRET)
        member_card, other_card = sales_card(admin, member), sales_card(admin, other, "Other")
        due = iso(clock.now + timedelta(days=2))
        for number in range(3):
            admin.task(member_card, due, f"Failing {number}", assignee_id=member.user.id)
        admin.task(other_card, due, "Healthy", assignee_id=other.user.id)

        worker.drain()
        # One attempt told the failing receiver is down; its other deliveries wait untried.
        assert len(receiver.requests) == 1
        states = sorted(
            (d["state"], d["attempts"]) for d in notifications(member).deliveries(channel="webhook")
        )
        assert states == [("pending", 0), ("pending", 0), ("retrying", 1)]
        assert [d["state"] for d in notifications(other).deliveries(channel="webhook")] == ["sent"]
        assert len(healthy.delivered) == 1

        receiver.always_fail = False
        clock.advance(seconds=11)  # past the first backoff (10 s at most in these settings)
        worker.drain()
        assert len(receiver.delivered) == 3
        assert {d["state"] for d in notifications(member).deliveries(channel="webhook")} == {"sent"}
    finally:
        healthy.stop()


def test_delivery_times_are_when_each_send_happened(
    admin, member, notifications, worker, receiver, clock
):
    receiver.on_request = lambda _body: clock.advance(seconds=30)  # each answer takes 30 s
    notifications(member).preferences(webhook_url=receiver.url, webhook_secret=SECRET)
    card = sales_card(admin, member)
    due = iso(clock.now + timedelta(days=2))
    for number in range(2):
        admin.task(card, due, f"Timed {number}", assignee_id=member.user.id)
    claimed_at = clock.now
    worker.drain()
    sent = sorted(at(d["sent_at"]) for d in notifications(member).deliveries(channel="webhook"))
    assert sent == [claimed_at + timedelta(seconds=30), claimed_at + timedelta(seconds=60)]

    receiver.fail_times = 1
    admin.task(card, due, "Timed retry", assignee_id=member.user.id)
    failed_at = clock.now + timedelta(seconds=30)
    worker.drain()
    [retrying] = [
        d for d in notifications(member).deliveries(channel="webhook") if d["state"] == "retrying"
    ]
    # backoff(1) with DELIVERY_BACKOFF_SECONDS 10: 5 to 10 s after the failed answer
    retry_at = at(retrying["next_attempt_at"])
    assert failed_at + timedelta(seconds=5) <= retry_at <= failed_at + timedelta(seconds=10)
