"""Webhooks against a real receiver: retried with backoff when it fails, delivered once,
dead-lettered and visible when it never recovers, and sent again on request."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from cardcrm.notifications.deliveries.service import backoff

from .helpers import checked_webhook, iso, sales_card

SECRET = "receiver-and-cardcrm-share-this"


@pytest.fixture
def hooked(member, notifications, receiver):
    notifications(member).preferences(webhook_url=receiver.url, webhook_secret=SECRET)
    return notifications(member)


def assign_a_task(admin, member, clock, text="Prepare the contract"):
    card = sales_card(admin, member)
    return admin.task(card, iso(clock.now + timedelta(days=2)), text, assignee_id=member.user.id)


def test_a_receiver_that_fails_twice_then_succeeds_gets_the_event_once_after_retries(
    admin, member, hooked, worker, receiver, clock
):
    receiver.fail_times = 2
    task = assign_a_task(admin, member, clock)

    worker.drain()
    [webhook] = hooked.deliveries(channel="webhook")
    assert webhook["state"] == "retrying" and webhook["attempts"] == 1
    assert webhook["last_error"] == "the webhook answered HTTP 503"
    first_retry = webhook["next_attempt_at"]

    assert worker.drain()["delivered"] == 0  # not before its time
    clock.advance(seconds=10)
    worker.drain()
    [webhook] = hooked.deliveries(channel="webhook")
    assert webhook["state"] == "retrying" and webhook["attempts"] == 2
    assert webhook["next_attempt_at"] > first_retry

    clock.advance(minutes=1)
    worker.drain()
    [webhook] = hooked.deliveries(channel="webhook")
    assert webhook["state"] == "sent" and webhook["attempts"] == 3
    assert webhook["last_error"] is None and webhook["sent_at"] is not None

    assert len(receiver.requests) == 3
    [delivered] = receiver.delivered
    assert checked_webhook(delivered, SECRET)["data"]["id"] == task["id"]
    # every attempt carried the same event id, so a receiver could have deduplicated
    assert {request["headers"]["X-Cardcrm-Event-Id"] for request in receiver.requests} == {
        delivered["headers"]["X-Cardcrm-Event-Id"]
    }

    clock.advance(hours=5)
    assert worker.drain()["delivered"] == 0
    assert len(receiver.requests) == 3


def dead_lettered_webhook(admin, member, hooked, worker, receiver, clock):
    """A task assigned while the receiver always fails, until its webhook delivery is dead."""
    receiver.always_fail = True
    assign_a_task(admin, member, clock)
    for _ in range(6):
        worker.drain()
        clock.advance(hours=1)
    [webhook] = hooked.deliveries(channel="webhook")
    assert webhook["state"] == "dead"
    return webhook


def test_a_receiver_that_always_fails_is_dead_lettered_visibly_and_can_be_retried(
    admin, member, hooked, worker, receiver, clock
):
    webhook = dead_lettered_webhook(admin, member, hooked, worker, receiver, clock)
    assert webhook["attempts"] == 4  # DELIVERY_MAX_ATTEMPTS in these tests
    assert webhook["last_error"] == "the webhook answered HTTP 503"
    assert webhook["next_attempt_at"] is None
    assert len(receiver.requests) == 4
    assert hooked.deliveries(state="dead") == [webhook]
    [inapp] = hooked.deliveries(channel="inapp")
    assert inapp["state"] == "sent"  # one channel failing holds up no other

    receiver.always_fail = False
    again = hooked.ok("POST", f"deliveries/{webhook['id']}/retry")
    assert again["state"] == "pending" and again["attempts"] == 0
    worker.drain()
    [webhook] = hooked.deliveries(channel="webhook")
    assert webhook["state"] == "sent" and webhook["attempts"] == 1
    assert len(receiver.delivered) == 1
    assert hooked.request("POST", f"deliveries/{webhook['id']}/retry").status_code == 409


def test_a_retry_sent_twice_with_one_idempotency_key_is_done_once(
    admin, member, hooked, worker, receiver, clock
):
    webhook = dead_lettered_webhook(admin, member, hooked, worker, receiver, clock)
    path = f"deliveries/{webhook['id']}/retry"
    key = {"Idempotency-Key": "retry-after-fixing-the-receiver"}
    first = hooked.request("POST", path, headers=key)
    assert first.status_code == 200 and first.get_json()["state"] == "pending"
    # The answer was lost and the client sends the same request again: the first answer comes
    # back instead of a 409 (the delivery is no longer dead), and nothing is done twice.
    again = hooked.request("POST", path, headers=key)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    # The same key for another request is refused.
    other = hooked.request("POST", "inbox/read-all", headers=key)
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["errors"]
    # Without a key, a second retry is a second request.
    assert hooked.request("POST", path).status_code == 409


def test_a_receiver_refusing_the_event_with_a_4xx_is_dead_at_once(
    admin, member, hooked, worker, receiver, clock
):
    receiver.always_fail, receiver.fail_status = True, 410
    assign_a_task(admin, member, clock)
    worker.drain()
    [webhook] = hooked.deliveries(channel="webhook")
    assert (webhook["state"], webhook["attempts"]) == ("dead", 1)
    assert webhook["last_error"] == "the webhook answered HTTP 410"


def test_a_receiver_that_is_too_slow_times_out_and_is_retried(
    admin, member, hooked, worker, receiver, clock
):
    worker.dispatcher.context.channels["webhook"].timeout = 0.3
    original = receiver.server.RequestHandlerClass.do_POST

    def slow(handler):
        time.sleep(1.0)
        original(handler)

    receiver.server.RequestHandlerClass.do_POST = slow
    assign_a_task(admin, member, clock)
    worker.drain()
    [webhook] = hooked.deliveries(channel="webhook")
    assert webhook["state"] == "retrying"
    assert "could not connect" in webhook["last_error"]


def test_a_receiver_that_is_down_is_retried_like_one_that_fails(
    admin, member, notifications, worker, clock
):
    notifications(member).preferences(webhook_url="http://127.0.0.1:9/nobody-listens")
    assign_a_task(admin, member, clock)
    worker.drain()
    [webhook] = notifications(member).deliveries(channel="webhook")
    assert webhook["state"] == "retrying" and "could not connect" in webhook["last_error"]


def test_the_backoff_doubles_up_to_its_cap_with_jitter_and_honours_retry_after():
    low = [backoff(attempt, 10, 3600, jitter=lambda: 0.0) for attempt in range(1, 11)]
    high = [backoff(attempt, 10, 3600, jitter=lambda: 1.0) for attempt in range(1, 11)]
    assert high[:5] == [10, 20, 40, 80, 160]
    assert low[:5] == [5, 10, 20, 40, 80]
    assert max(high) == 3600
    assert backoff(1, 10, 3600, retry_after=120, jitter=lambda: 0.0) == 120
    assert backoff(1, 10, 3600, retry_after=10**9, jitter=lambda: 0.0) == 3600
