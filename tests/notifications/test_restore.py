"""Core restored from a backup alone: event ids are never reused, and the worker notices.

Core's integer event ids start again from the backup's newest, so events made after the restore
get the ids of events made before it. Webhook ids, ``X-Cardcrm-Event-Id`` and e-mail
``Message-ID``\\s are made from the events' ``uid`` instead, which is never reused; and the
worker, whose cursor is now ahead of core's feed, rewinds and handles the new events instead of
waiting for core to pass its cursor (and skipping them when it does).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from cardcrm.notifications.events import FOLLOWER_NAME, EventCursor

from tests.conftest import SqliteBackup

from .helpers import checked_webhook, iso, sales_card

SECRET = "a-long-shared-secret-for-hmac"


@pytest.mark.parametrize(
    ("made_after", "reason"),
    [
        (2, "behind the cursor"),  # core's newest event is older than the cursor
        (5, "not the one handled there"),  # core passed the cursor with other events
    ],
)
def test_after_core_is_restored_new_events_get_new_ids_and_the_worker_reads_them(
    admin,
    member,
    notifications,
    notifications_app,
    worker,
    smtp,
    receiver,
    clock,
    database_url,
    tmp_path,
    made_after,
    reason,
):
    backup = SqliteBackup(database_url, tmp_path)
    notifications(member).preferences(
        email=member.user.email, webhook_url=receiver.url, webhook_secret=SECRET
    )
    card = sales_card(admin, member)
    due = iso(clock.now + timedelta(days=1))
    worker.drain()
    backup.take()

    def assign(texts: list[str]) -> None:
        for text in texts:
            admin.task(card, due, text, assignee_id=member.user.id)

    assign(["Before 1", "Before 2", "Before 3"])
    worker.drain()
    before_bodies = [checked_webhook(request, SECRET) for request in receiver.requests]
    before_mails = smtp.wait_for(3)
    assert len(before_bodies) == 3

    backup.restore()  # core alone restored: the worker's cursor is ahead
    texts = [f"After {number}" for number in range(1, made_after + 1)]
    assign(texts)
    counts = worker.drain()
    assert counts["delivered"] == made_after * 3  # each new event on each channel, no old one

    after_requests = receiver.requests[3:]
    after_bodies = [checked_webhook(request, SECRET) for request in after_requests]
    assert [body["data"]["text"] for body in after_bodies] == texts
    # core reused its integer ids ...
    assert [body["seq"] for body in after_bodies][:2] == [body["seq"] for body in before_bodies][:2]
    # ... but no id a receiver deduplicates on repeats
    before_ids = {body["id"] for body in before_bodies}
    assert not before_ids & {body["id"] for body in after_bodies}
    for request, body in zip(after_requests, after_bodies, strict=True):
        assert request["headers"]["X-Cardcrm-Event-Id"] == body["id"] == str(uuid.UUID(body["id"]))
    after_mails = smtp.wait_for(3 + made_after)[3:]
    assert len(after_mails) == made_after
    assert not {m["Message-ID"] for m in before_mails} & {m["Message-ID"] for m in after_mails}

    # the worker says what it found, in its health
    health = notifications_app.test_client().get("/healthz").get_json()
    assert health["status"] == "ok"
    feed = health["feed"][FOLLOWER_NAME]
    assert feed["rewound_at"] is not None and reason in feed["rewind_reason"]
    assert feed["last_id"] == counts_last_id(worker)


def counts_last_id(worker) -> int:
    with worker.context.db.writer() as session:
        return session.get(EventCursor, FOLLOWER_NAME).last_id


def test_an_event_notified_before_the_upgrade_to_uid_keys_is_not_notified_again(
    admin, member, notifications, worker, receiver, clock
):
    """Notifications were keyed by the event's integer id before events had a ``uid``: an event
    of then, read again when the worker rewinds, is still recognised as notified."""
    from datetime import UTC, datetime

    from cardcrm.notifications.deliveries.models import Notification
    from cardcrm.notifications.events import KEYED_BY_UID_SINCE, WorkerState
    from sqlalchemy import update

    notifications(member).preferences(webhook_url=receiver.url, webhook_secret=SECRET)
    card = sales_card(admin, member)
    due = iso(clock.now + timedelta(days=1))
    admin.task(card, due, "Before the upgrade", assignee_id=member.user.id)
    worker.drain()
    [delivered] = receiver.requests
    seq = checked_webhook(delivered, SECRET)["seq"]
    with worker.context.db.writer.begin() as session:
        # as the version before recorded it, and the upgrade made after it
        session.execute(update(Notification).values(key=f"event:{seq}"))
        upgraded = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        session.merge(WorkerState(name=KEYED_BY_UID_SINCE, value=upgraded))
        session.get(EventCursor, FOLLOWER_NAME).last_id = 10**6  # core went back behind it
    worker.handler._keyed_by_uid_read = False
    admin.task(card, due, "After the upgrade", assignee_id=member.user.id)

    worker.drain()

    texts = [checked_webhook(request, SECRET)["data"]["text"] for request in receiver.requests]
    assert texts == ["Before the upgrade", "After the upgrade"]
