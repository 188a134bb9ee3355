"""Each rule on each channel: the in-app inbox, e-mail through a real SMTP server, and a signed
webhook to a real receiver, with core answering over real HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from .helpers import checked_webhook, html_of, iso, sales_card, text_of

SECRET = "a-long-shared-secret-for-hmac"


def subscribe(notifications, user, receiver, **rules):
    return notifications(user).preferences(
        email=user.user.email,  # the account's own: no confirmation needed
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        **rules,
    )


def test_a_task_assigned_to_me_by_someone_else_reaches_my_inbox_mailbox_and_webhook(
    admin, member, notifications, worker, smtp, receiver, clock
):
    subscribe(notifications, member, receiver)
    card = sales_card(admin, member)
    due = clock.now + timedelta(days=1)
    task = admin.task(card, iso(due), "Send the offer", assignee_id=member.user.id)

    counts = worker.drain()
    assert counts["delivered"] == 3

    [item] = notifications(member).inbox()
    assert item["rule"] == "assigned" and item["type"] == "task.created"
    assert "assigned you a task: Send the offer" in item["title"]
    assert item["url"] == f"https://crm.example.com/cards/{card['id']}"
    assert item["card_id"] == card["id"] and item["read"] is False

    [message] = smtp.wait_for(1)
    assert message["To"] == "member@example.com"
    assert message["From"] == "cardcrm@example.com"
    assert "Send the offer" in message["Subject"]
    assert "ACME renewal" in text_of(message)
    assert f"https://crm.example.com/cards/{card['id']}" in text_of(message)
    assert f'href="https://crm.example.com/cards/{card["id"]}"' in html_of(message)
    assert message["Message-ID"].endswith(".cardcrm@example.com>")

    [request] = receiver.requests
    body = checked_webhook(request, SECRET)
    assert body["type"] == "task.created" and body["rule"] == "assigned"
    assert body["data"]["id"] == task["id"] and body["actor_id"] == admin.user.id
    assert set(body) >= {"id", "type", "at", "data"}
    # named by the event's uid, core's integer id beside it
    assert request["headers"]["X-Cardcrm-Event-Id"] == body["id"] == str(uuid.UUID(body["id"]))
    assert isinstance(body["seq"], int) and item["event_id"] == body["seq"]

    states = {item["channel"]: item for item in notifications(member).deliveries()}
    assert set(states) == {"inapp", "email", "webhook"}
    assert all(item["state"] == "sent" and item["attempts"] == 1 for item in states.values())
    assert all(item["rule"] == "assigned" for item in states.values())


def test_a_reassignment_tells_the_new_assignee_and_nobody_is_told_of_their_own_doing(
    admin, member, new_user, notifications, worker, clock
):
    ana = new_user("ana@example.com")
    card = sales_card(admin, member, members=(ana,))
    mine = member.task(card, iso(clock.now + timedelta(hours=3)), "Mine, by me")
    member.ok("PATCH", f"tasks/{mine['id']}", {"assignee_id": ana.user.id})
    ana.task(card, iso(clock.now + timedelta(hours=4)), "Ana's own")

    worker.drain()

    assert notifications(member).inbox() == []
    [item] = notifications(ana).inbox()
    assert item["rule"] == "assigned" and item["type"] == "task.updated"
    assert item["title"] == "Member assigned you a task: Mine, by me"


def test_a_card_i_own_moved_by_someone_else_reaches_me_on_every_channel(
    admin, member, notifications, worker, smtp, receiver
):
    subscribe(notifications, member, receiver)
    card = sales_card(admin, member)
    product = admin.ok("GET", f"products/{card['product_id']}")
    won = next(status for status in product["statuses"] if status["group"] == "positive")
    admin.patch(f"cards/{card['id']}", {"status_id": won["id"]})
    member.patch(f"cards/{card['id']}", {"title": "ACME renewal (signed)"})  # no rule

    worker.drain()

    [item] = notifications(member).inbox()
    assert item["rule"] == "status_changed"
    assert item["title"] == f"ACME renewal moved to {won['name']}"
    assert "Admin moved your card" in item["text"]
    [message] = smtp.wait_for(1)
    assert message["Subject"] == f"ACME renewal moved to {won['name']}"
    body = checked_webhook(receiver.requests[0], SECRET)
    assert body["type"] == "card.status_changed"
    assert body["data"]["before"]["status_group"] == "inactive"
    assert body["data"]["status_id"] == won["id"]


def test_moving_my_own_card_or_switching_the_rule_off_tells_me_nothing(
    admin, member, notifications, worker
):
    card = sales_card(admin, member)
    product = admin.ok("GET", f"products/{card['product_id']}")
    first, second = product["statuses"][0], product["statuses"][1]
    member.patch(f"cards/{card['id']}", {"status_id": second["id"]})
    notifications(member).preferences(status_changes=False, assigned=False)
    admin.patch(f"cards/{card['id']}", {"status_id": first["id"]})
    admin.task(card, "2030-01-01T09:00:00Z", "Call", assignee_id=member.user.id)

    worker.drain()

    assert notifications(member).inbox() == []
    assert notifications(member).deliveries() == []


def test_a_reminder_reaches_me_on_every_channel_n_minutes_before_the_deadline(
    admin, member, notifications, worker, smtp, receiver, clock
):
    subscribe(notifications, member, receiver, due_reminder_minutes=30, assigned=False)
    card = sales_card(admin, member)
    due = clock.now + timedelta(hours=2)
    task = member.task(card, iso(due), "Call Ana back")

    worker.drain()
    assert notifications(member).inbox() == []

    clock.set(due - timedelta(minutes=31))
    assert worker.drain()["delivered"] == 0
    clock.set(due - timedelta(minutes=30))
    assert worker.drain()["delivered"] == 3

    [item] = notifications(member).inbox()
    assert item["rule"] == "due_reminder" and item["type"] == "task.due_soon"
    assert "Call Ana back" in item["title"]
    [message] = smtp.wait_for(1)
    assert "Call Ana back" in message["Subject"] and "ACME renewal" in text_of(message)
    body = checked_webhook(receiver.requests[0], SECRET)
    assert body["type"] == "task.due_soon" and body["data"]["id"] == task["id"]
    assert body["data"]["minutes"] == 30
    assert body["id"] == f"reminder-{task['id']}-{int(due.timestamp())}"

    clock.advance(minutes=10)
    assert worker.drain()["delivered"] == 0  # once per deadline


def test_the_daily_digest_reaches_me_on_every_channel_with_the_totals_and_the_list(
    admin, member, notifications, worker, smtp, receiver, clock
):
    clock.set(clock.now.replace(hour=5, minute=0, second=0))
    subscribe(notifications, member, receiver, daily_digest_at="08:00", assigned=False)
    card = sales_card(admin, member)
    member.task(card, iso(clock.now.replace(hour=14)), "Demo for ACME")
    member.task(card, iso(clock.now - timedelta(days=2)), "Overdue follow-up")

    clock.set(clock.now.replace(hour=8))
    counts = worker.drain()
    assert counts["delivered"] == 3

    [item] = notifications(member).inbox()
    assert item["rule"] == "daily_digest" and item["title"].endswith("1 due, 1 overdue")
    [message] = smtp.wait_for(1)
    text = text_of(message)
    assert "1 due, 1 overdue, 0 closed, 0 postponed" in text
    assert "Demo for ACME" in text and "overdue" in text and "Overdue follow-up" in text
    body = checked_webhook(receiver.requests[0], SECRET)
    assert body["type"] == "today.digest"
    assert body["data"]["totals"] == {"due": 1, "overdue": 1, "closed": 0, "postponed": 0}
    assert [task["text"] for task in body["data"]["tasks"]] == [
        "Overdue follow-up",
        "Demo for ACME",
    ]
    day = clock.now.astimezone(ZoneInfo("UTC")).date().isoformat()
    assert body["id"] == f"digest-{member.user.id}-{day}"


def test_an_e_mail_keeps_accents_and_escapes_markup_from_titles(
    admin, member, notifications, worker, smtp, clock
):
    notifications(member).preferences(email=member.user.email)
    card = sales_card(admin, member, title="<b>Müller</b> & Söhne")
    admin.task(
        card, iso(clock.now + timedelta(days=1)), "Rückruf — Angebot", assignee_id=member.user.id
    )
    worker.drain()
    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Admin assigned you a task: Rückruf — Angebot"
    assert "on <b>Müller</b> & Söhne." in text_of(message)
    html = html_of(message)
    assert "&lt;b&gt;Müller&lt;/b&gt; &amp; Söhne" in html and "<b>Müller" not in html
