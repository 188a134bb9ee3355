"""The ``mentioned`` rule: a user mentioned in a note hears of it on their channels, if they
may see the card, never for their own mention, and an edit tells only the users it adds.

Core and the sidecar run for real (HTTP, SMTP, a webhook receiver); notes are written as core
records them (``note.created`` / ``note.updated``, the notes feature's payload).
"""

from __future__ import annotations

import uuid
from html import escape
from typing import Any

from .helpers import checked_webhook, html_of, iso, sales_card, text_of

SECRET = "a-long-shared-secret-for-hmac"


class Notes:
    """Writes notes as core's notes feature records them, into the worker's feed handler."""

    def __init__(self, worker: Any, clock: Any, card: dict[str, Any]) -> None:
        self.worker, self.clock, self.card = worker, clock, card
        self.seq = 10**6

    def _record(self, type: str, actor: Any, data: dict[str, Any]) -> None:
        self.seq += 1
        card = {"product_id": self.card["product_id"], "owner_id": self.card["owner_id"]}
        event = {
            "id": self.seq,
            "uid": str(uuid.uuid4()),
            "type": type,
            "at": iso(self.clock.now),
            "actor_id": actor.user.id,
            "data": {**data, **card},
        }
        with self.worker.context.db.writer.begin() as session:
            self.worker.handler(session, event)

    def write(self, author: Any, body: str, mentions: list[Any]) -> dict[str, Any]:
        now = iso(self.clock.now)
        note = {
            "id": self.seq + 1,
            "card_id": self.card["id"],
            "author_id": author.user.id,
            "body": body,
            "html": "".join(f"<p>{escape(part)}</p>\n" for part in body.split("\n\n")),
            "mentions": [user.user.id for user in mentions],
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        self._record("note.created", author, note)
        return note

    def edit(self, editor: Any, note: dict[str, Any], body: str, mentions: list[Any]) -> None:
        changed = {
            **note,
            "body": body,
            "html": f"<p>{escape(body)}</p>\n",
            "mentions": [user.user.id for user in mentions],
            "updated_at": iso(self.clock.now),
            "version": note["version"] + 1,
        }
        added = [user for user in changed["mentions"] if user not in note["mentions"]]
        self._record("note.updated", editor, {**changed, "new_mentions": added})


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
    notes = Notes(worker, clock, card)
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
    assert "Call them **before Friday**; the price list is attached." in text
    assert "<p>" not in text
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
    Notes(worker, clock, card).write(ana, "@member please look", [member])

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
    Notes(worker, clock, card).write(member, "Bo, Admin: a look?", [bo, admin])

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
    notes = Notes(worker, clock, card)
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
    notes = Notes(worker, clock, card)
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
    notes = Notes(worker, clock, card)
    notes.write(ana, "x", [member])
    worker.drain()
    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Ana mentioned you on “<b>Müller</b> & Söhne”"
    html = html_of(message)
    assert "&lt;b&gt;Müller&lt;/b&gt; &amp; Söhne" in html and "<b>Müller" not in html
