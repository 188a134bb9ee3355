"""The ``mentioned`` rule: a user mentioned in a note hears of it on their channels, if they
may see the card, never for their own mention, and an edit tells only the users it adds.

Core and the sidecar run for real (HTTP, SMTP, a webhook receiver); notes are written through
core's notes API, as their authors would.
"""

from __future__ import annotations

import uuid
from typing import Any

from .helpers import checked_webhook, html_of, iso, sales_card, text_of

SECRET = "a-long-shared-secret-for-hmac"


class Notes:
    """Notes on one card through core's notes API, as their authors write them."""

    def __init__(self, card: dict[str, Any]) -> None:
        self.card = card

    def write(self, author: Any, body: str, mentions: list[Any]) -> dict[str, Any]:
        return author.ok(
            "POST",
            f"cards/{self.card['id']}/notes",
            {"body": body, "mentions": [user.user.id for user in mentions]},
            status=201,
        )

    def edit(self, editor: Any, note: dict[str, Any], body: str, mentions: list[Any]) -> dict:
        return editor.ok(
            "PATCH",
            f"notes/{note['id']}",
            {"body": body, "mentions": [user.user.id for user in mentions]},
        )


def subscribe(notifications: Any, user: Any, receiver: Any, **rules: Any) -> dict[str, Any]:
    return notifications(user).preferences(
        email=user.user.email, webhook_url=receiver.url, webhook_secret=SECRET, **rules
    )


def mentions_of(api: Any) -> list[dict[str, Any]]:
    return [item for item in api.inbox() if item["rule"] == "mentioned"]


def test_a_mentioned_user_gets_the_note_in_the_inbox_by_e_mail_and_by_webhook(
    admin, member, new_user, notifications, worker, smtp, receiver, clock
):
    ana = new_user("ana@example.com")
    card = sales_card(admin, member, title="Acme renewal", members=(ana,))
    subscribe(notifications, member, receiver)
    worker.drain()
    notes = Notes(card)
    body = "Call them **before Friday**; the price list is attached.\n\n" + "More. " * 200
    note = notes.write(ana, body, [member])

    assert worker.drain()["delivered"] == 3

    [item] = mentions_of(notifications(member))
    assert item["type"] == "note.created" and item["card_id"] == card["id"]
    assert item["title"] == "Ana mentioned you on “Acme renewal”"
    assert item["url"] == f"https://crm.example.com/cards/{card['id']}"

    [message] = smtp.wait_for(1)
    assert message["To"] == "member@example.com"
    assert message["Subject"] == "Ana mentioned you on “Acme renewal”"
    text = text_of(message)
    assert "Call them before Friday; the price list is attached." in text
    assert "**" not in text and "<p>" not in text and "<strong>" not in text
    assert "More. More." in text and "…" in text and text.count("More.") < 120  # shortened
    assert f"https://crm.example.com/cards/{card['id']}" in text
    assert f'href="https://crm.example.com/cards/{card["id"]}"' in html_of(message)

    body_sent = checked_webhook(receiver.requests[0], SECRET)
    assert body_sent["type"] == "note.created" and body_sent["rule"] == "mentioned"
    assert body_sent["data"]["id"] == note["id"] and body_sent["actor_id"] == ana.user.id
    assert body_sent["data"]["mentions"] == [member.user.id]

    assert mentions_of(notifications(ana)) == []


def test_with_mentions_switched_off_a_mention_tells_nothing(
    admin, member, new_user, notifications, worker, smtp, receiver, clock
):
    ana = new_user("ana@example.com")
    card = sales_card(admin, member, members=(ana,))
    saved = subscribe(notifications, member, receiver, mentioned=False)
    assert saved["mentioned"] is False
    worker.drain()
    Notes(card).write(ana, "@member please look", [member])

    worker.drain()

    assert notifications(member).inbox() == []
    assert notifications(member).deliveries() == []
    assert smtp.messages == [] and receiver.requests == []


def test_a_mentioned_user_who_may_not_see_the_card_gets_nothing(
    admin, member, new_user, notifications, worker, clock
):
    bo = new_user("bo@example.com")
    product = admin.product("sales")
    admin.grant(product, member)
    admin.grant(product, bo, own_cards_only=True)
    card = admin.card(product, "Member's deal", owner_id=member.user.id)
    worker.drain()
    written = Notes(card).write(member, "Bo, Admin: a look?", [bo, admin])
    assert [item["user_id"] for item in written["not_notified"]] == [bo.user.id]

    worker.drain()

    assert notifications(bo).inbox() == []
    assert [item["title"] for item in mentions_of(notifications(admin))] == [
        "Member mentioned you on “Member's deal”"
    ]


def test_an_edit_that_adds_a_mention_tells_only_the_user_it_adds(
    admin, member, new_user, notifications, worker, clock
):
    ana = new_user("ana@example.com")
    card = sales_card(admin, member, members=(ana,))
    worker.drain()
    notes = Notes(card)
    note = notes.write(member, "Ana, the offer?", [ana])
    worker.drain()
    assert len(mentions_of(notifications(ana))) == 1

    clock.advance(minutes=5)
    notes.edit(member, note, "Ana, the offer? Admin, the discount?", [ana, admin])
    worker.drain()

    assert len(mentions_of(notifications(ana))) == 1
    [item] = mentions_of(notifications(admin))
    assert item["type"] == "note.updated"
    assert item["title"] == "Member mentioned you on “ACME renewal”"


def test_the_author_mentioning_themselves_gets_nothing(
    admin, member, new_user, notifications, worker, clock
):
    ana = new_user("ana@example.com")
    card = sales_card(admin, member, members=(ana,))
    worker.drain()
    notes = Notes(card)
    note = notes.write(member, "Note to self, and to Ana", [member, ana])
    notes.edit(member, note, "Note to self, and to Ana, again", [member, ana])
    worker.drain()
    assert notifications(member).inbox() == []
    assert [item["title"] for item in mentions_of(notifications(ana))] == [
        "Member mentioned you on “ACME renewal”"
    ]


def test_a_mention_message_quotes_the_notes_words_not_its_markup(
    admin, member, new_user, notifications, worker, smtp, clock
):
    ana = new_user("ana@example.com")
    card = sales_card(admin, member, title="<b>Müller</b> & Söhne", members=(ana,))
    notifications(member).preferences(email=member.user.email)
    worker.drain()
    notes = Notes(card)
    notes.write(ana, "**Bold** <script>alert(1)</script> [a link](https://example.com)", [member])
    worker.drain()
    [message] = smtp.wait_for(1)
    text = text_of(message)
    # the words as the author wrote them (what looks like a tag is text), no Markdown signs
    assert "Bold <script>alert(1)</script> a link" in text
    assert "**" not in text and "<strong>" not in text and "](https" not in text
    assert message["Subject"] == "Ana mentioned you on “<b>Müller</b> & Söhne”"
    html = html_of(message)
    assert "&lt;b&gt;Müller&lt;/b&gt; &amp; Söhne" in html and "<b>Müller" not in html
    assert "&lt;script&gt;" in html and "<script" not in html


def test_the_sidecar_itself_tells_no_one_who_may_not_see_the_card(
    admin, member, new_user, notifications, worker, clock
):
    """Even when an event names someone out of the card's sight (core lists only those who
    may see it; a user may lose sight before the worker reads the event), nothing is sent."""
    bo = new_user("bo@example.com")
    product = admin.product("sales")
    admin.grant(product, member)
    admin.grant(product, bo, own_cards_only=True)
    card = admin.card(product, "Member's deal", owner_id=member.user.id)
    note = Notes(card).write(member, "For Admin", [admin])
    worker.drain()
    assert len(mentions_of(notifications(admin))) == 1

    event = {
        "id": 10**9,
        "uid": str(uuid.uuid4()),
        "type": "note.updated",
        "at": iso(clock.now),
        "actor_id": member.user.id,
        "data": {
            **note,
            "mentions": [admin.user.id, bo.user.id],
            "new_mentions": [bo.user.id],
            "product_id": card["product_id"],
            "owner_id": card["owner_id"],
        },
    }
    event["data"].pop("not_notified", None)
    with worker.context.db.writer.begin() as session:
        worker.handler(session, event)
    worker.drain()
    assert notifications(bo).inbox() == []
    assert notifications(bo).deliveries() == []
