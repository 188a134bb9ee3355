"""E-mail to the card, core side: addresses and rotation, filing raw messages (what a card
keeps of them, duplicates, several cards), hostile mail, the receiver's scope, and access."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from cardcrm.common.db import get_db
from cardcrm.core.auth.service import create_token

from tests.conftest import Api

ADDRESS = re.compile(r"card-(\d+)-([a-z2-7]{20})@localhost")


@pytest.fixture
def mailer(app, client) -> Api:
    """The mail receiver as core sees it: a service token holding ``mail:deliver`` only."""
    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="mail", scopes=("mail:deliver",))
        session.close()
    return Api(client, token)


def send(mailer: Api, recipients: list[str], raw: bytes) -> Any:
    query = "&".join(f"recipient={address}" for address in recipients)
    return mailer.request(
        "POST",
        f"mail/messages?{query}",
        data=raw,
        headers={"Content-Type": "message/rfc822"},
    )


def message(
    to: str,
    subject: str = "Offer",
    text: str = "Hello, here is our offer.",
    html: str | None = None,
    message_id: str | None = "<offer-1@client.example>",
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    cc: str | None = None,
) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Ana Client <ana@client.example>"
    mail["To"] = to
    if cc:
        mail["Cc"] = cc
    mail["Subject"] = subject
    if message_id:
        mail["Message-ID"] = message_id
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    for name, content_type, content in attachments:
        main, _, sub = content_type.partition("/")
        mail.add_attachment(content, maintype=main, subtype=sub, filename=name)
    return mail.as_bytes(policy=policy.SMTP)  # CRLF line ends, as mail travels


def test_every_card_has_an_address_of_its_own_with_an_unguessable_secret(admin):
    product = admin.product("sales")
    first, second = admin.card(product, "ACME"), admin.card(product, "Globex")
    for card in (first, second):
        found = ADDRESS.fullmatch(card["email_address"])
        assert found and int(found.group(1)) == card["id"]
    assert first["email_address"].split("-")[2] != second["email_address"].split("-")[2]
    assert admin.ok("GET", f"cards/{first['id']}")["email_address"] == first["email_address"]


def test_a_message_to_the_address_becomes_a_card_email(admin, mailer):
    card = admin.card(admin.product("sales"), "ACME")
    raw = message(
        card["email_address"],
        html="<p>Hello <b>there</b></p><script>alert(1)</script><a href='javascript:x()'>x</a>",
        cc="Bob <bob@client.example>, carol@client.example",
    )
    answer = send(mailer, [card["email_address"]], raw)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["refused"] == []
    (email,) = admin.ok("GET", f"cards/{card['id']}/emails")["items"]
    assert email["from"] == "Ana Client <ana@client.example>"
    assert email["to"] == [card["email_address"]]
    assert email["cc"] == ["Bob <bob@client.example>", "carol@client.example"]
    assert email["subject"] == "Offer"
    assert email["text"].strip() == "Hello, here is our offer."
    assert "<b>there</b>" in email["html"]
    assert "script" not in email["html"] and "javascript" not in email["html"]
    assert email["message_id"] == "<offer-1@client.example>"
    assert email["received_at"].endswith("Z")
    assert email["files"] == []
    assert admin.ok("GET", f"emails/{email['id']}") == email
    after = admin.ok("GET", f"cards/{card['id']}")
    assert after["updated_at"] > card["updated_at"]
    history = admin.ok("GET", f"cards/{card['id']}/history")["items"]
    assert history[-1]["type"] == "email.received"
    assert history[-1]["data"]["email_id"] == email["id"]
    events = admin.ok("GET", "events?after=0&limit=500")["items"]
    received = [event for event in events if event["type"] == "email.received"]
    assert len(received) == 1
    assert received[0]["data"]["id"] == email["id"]
    assert received[0]["data"]["card_id"] == card["id"]
    assert received[0]["data"]["product_id"] == card["product_id"]
    assert "text" not in received[0]["data"]


def test_the_same_message_delivered_twice_is_kept_once(admin, mailer):
    card = admin.card(admin.product("sales"), "ACME")
    raw = message(card["email_address"])
    first = send(mailer, [card["email_address"]], raw).get_json()
    again = send(mailer, [card["email_address"]], raw)
    assert again.status_code == 200
    assert again.get_json()["delivered"] == [
        {"card_id": card["id"], "email_id": first["delivered"][0]["email_id"], "duplicate": True}
    ]
    assert len(admin.ok("GET", f"cards/{card['id']}/emails")["items"]) == 1
    # Without a Message-ID, the same bytes are the same message; other bytes another one.
    plain = message(card["email_address"], message_id=None)
    send(mailer, [card["email_address"]], plain)
    send(mailer, [card["email_address"]], plain)
    send(mailer, [card["email_address"]], message(card["email_address"], "Other", message_id=None))
    assert len(admin.ok("GET", f"cards/{card['id']}/emails")["items"]) == 3


def test_a_message_to_two_cards_lands_on_both(admin, mailer):
    product = admin.product("sales")
    first, second = admin.card(product, "ACME"), admin.card(product, "Globex")
    recipients = [first["email_address"], second["email_address"].upper()]
    raw = message(", ".join(recipients))
    delivered = send(mailer, recipients, raw).get_json()["delivered"]
    assert sorted(item["card_id"] for item in delivered) == sorted([first["id"], second["id"]])
    for card in (first, second):
        (email,) = admin.ok("GET", f"cards/{card['id']}/emails")["items"]
        assert email["subject"] == "Offer"


def test_rotating_the_address_refuses_the_old_one(admin, mailer):
    card = admin.card(admin.product("sales"), "ACME")
    old = card["email_address"]
    assert mailer.get(f"mail/recipients/{old}").status_code == 200
    rotated = admin.ok("POST", f"cards/{card['id']}/email-address/rotate")
    assert rotated["email_address"] != old
    assert ADDRESS.fullmatch(rotated["email_address"])
    assert admin.ok("GET", f"cards/{card['id']}")["email_address"] == rotated["email_address"]
    assert mailer.get(f"mail/recipients/{old}").status_code == 404
    assert mailer.get(f"mail/recipients/{rotated['email_address']}").status_code == 200
    answer = send(mailer, [old], message(old)).get_json()
    assert answer == {"delivered": [], "refused": [old]}
    assert admin.ok("GET", f"cards/{card['id']}/emails")["items"] == []
    history = admin.ok("GET", f"cards/{card['id']}/history")["items"]
    assert history[-1]["type"] == "card.updated"
    assert history[-1]["data"]["changes"]["email_address"]["before"] == old
    # A stale If-Match changes nothing.
    stale = admin.post(
        f"cards/{card['id']}/email-address/rotate", headers={"If-Match": f'"{card["version"]}"'}
    )
    assert stale.status_code == 412
    assert admin.ok("GET", f"cards/{card['id']}")["email_address"] == rotated["email_address"]


def test_unknown_addresses_and_cards_in_the_trash_are_refused(admin, mailer):
    card = admin.card(admin.product("sales"), "ACME")
    address = card["email_address"]
    secret = address.split("-")[2].split("@")[0]
    wrong = [
        f"card-{card['id']}-{'a' * 20}@localhost",
        f"card-{card['id'] + 1}-{secret}@localhost",
        address.replace("@localhost", "@elsewhere.example"),
        "ana@localhost",
        "not an address",
        f"card-9999999999-{secret}@localhost",
        f"card-{card['id']}-{secret}\x00@localhost",
    ]
    for other in wrong:
        assert mailer.get(f"mail/recipients/{other}").status_code == 404, other
    assert mailer.get(f"mail/recipients/{address.upper()}").status_code == 200
    admin.ok("DELETE", f"cards/{card['id']}", status=204)
    assert mailer.get(f"mail/recipients/{address}").status_code == 404
    assert send(mailer, [address], message(address)).get_json()["delivered"] == []


def test_only_the_mail_scope_files_mail_and_it_reads_nothing_else(app, admin, mailer, client):
    card = admin.card(admin.product("sales"), "ACME")
    address = card["email_address"]
    with app.app_context():
        session = get_db().session()
        sidecar_token, _ = create_token(session, service="notifications")
        session.close()
    sidecar = Api(client, sidecar_token)
    for caller in (sidecar, admin):
        assert caller.get(f"mail/recipients/{address}").status_code == 403
        assert send(caller, [address], message(address)).status_code == 403
    assert admin.ok("GET", f"cards/{card['id']}/emails")["items"] == []
    assert mailer.get(f"cards/{card['id']}").status_code == 403
    assert mailer.get(f"cards/{card['id']}/emails").status_code == 403
    assert mailer.get("events").status_code == 403


def test_e_mails_follow_the_cards_access_rule(admin, member, new_user, mailer):
    product = admin.product("sales")
    admin.grant(product, member)
    card = admin.card(product, "secret deal")
    send(mailer, [card["email_address"]], message(card["email_address"], "secret offer"))
    email = member.ok("GET", f"cards/{card['id']}/emails")["items"][0]
    assert member.ok("GET", f"emails/{email['id']}")["subject"] == "secret offer"
    outsider = new_user("outsider@example.com")
    for path in (f"cards/{card['id']}/emails", f"emails/{email['id']}"):
        response = outsider.get(path)
        assert response.status_code == 404
        assert "secret" not in response.get_data(as_text=True)
    assert outsider.post(f"cards/{card['id']}/email-address/rotate").status_code == 404


def test_e_mails_are_listed_newest_first_a_page_at_a_time(admin, mailer):
    card = admin.card(admin.product("sales"), "ACME")
    address = card["email_address"]
    for number in range(3):
        send(mailer, [address], message(address, f"mail {number}", message_id=f"<m{number}@x>"))
    first = admin.ok("GET", f"cards/{card['id']}/emails?limit=2")
    assert [item["subject"] for item in first["items"]] == ["mail 2", "mail 1"]
    rest = admin.ok("GET", f"cards/{card['id']}/emails?limit=2&cursor={first['next_cursor']}")
    assert [item["subject"] for item in rest["items"]] == ["mail 0"]
    assert rest["next_cursor"] is None


def test_the_timeline_source_gives_the_cards_e_mails(app, admin, mailer):
    from cardcrm.core.cards.models import Card
    from cardcrm.core.timeline import SOURCES

    card = admin.card(admin.product("sales"), "ACME")
    send(mailer, [card["email_address"]], message(card["email_address"]))
    email = admin.ok("GET", f"cards/{card['id']}/emails")["items"][0]
    with app.app_context():
        session = get_db().session()
        (entry,) = SOURCES["email"](session, session.get(Card, card["id"]), None, 10)
        session.close()
    assert entry.kind == "email" and entry.id == email["id"]
    assert entry.data["subject"] == email["subject"]


def test_a_message_over_the_limit_is_refused_with_413(app, admin, mailer):
    app.config["MAIL_MAX_BYTES"] = 10_000
    card = admin.card(admin.product("sales"), "ACME")
    raw = message(card["email_address"], text="x" * 20_000)
    answer = send(mailer, [card["email_address"]], raw)
    assert answer.status_code == 413
    assert answer.mimetype == "application/problem+json"
    assert admin.ok("GET", f"cards/{card['id']}/emails")["items"] == []


def _nested(depth: int) -> bytes:
    head = b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n"
    tail = b"\r\n--b%d--\r\n"
    body = b"Content-Type: text/plain\r\n\r\ndeep inside\r\n"
    for level in range(depth):
        body = head % (level, level) + body + tail % level
    return body


def hostile_messages(to: str) -> dict[str, bytes]:
    return {
        "malformed headers": (
            f'To: {to}\r\nFrom: <<<@@@>>>,,,;;\r\nCc: "unclosed <x@\r\nSubject: =?utf-8?q?'
            "broken\r\nMessage-ID: \r\nDate: yesterday-ish\r\n\r\nbody\r\n"
        ).encode(),
        "wrong charsets": (
            f"To: {to}\r\nSubject: =?x-unknown?B?SGVsbG8=?= =?utf-8?B?////?=\r\n"
            "Content-Type: text/plain; charset=klingon\r\nContent-Transfer-Encoding: base64\r\n"
            "\r\n!!!not base64!!!\r\n"
        ).encode()
        + b"\xff\xfe\x00\x80raw bytes\r\n",
        "a huge header": f"To: {to}\r\nSubject: {'A' * 200_000}\r\n".encode()
        + b"X-Junk: "
        + b"b" * 500_000
        + b"\r\n\r\nhi\r\n",
        "thousands of addresses": f"To: {to}\r\nCc: ".encode()
        + b", ".join(b"x%d@y.example" % n for n in range(5000))
        + b"\r\n\r\nhi\r\n",
        "deeply nested multiparts": f"To: {to}\r\nSubject: nested\r\n".encode() + _nested(2000),
        "html with scripts": (
            f"To: {to}\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n"
            "<img src=x onerror=alert(1)><script>steal()</script><iframe src=//x></iframe>"
            "<p style='x' onclick='y'>hi</p>\r\n"
        ).encode(),
        "control characters": f"To: {to}\r\nSubject: a\x00b\x1bc\r\n\r\nnul\x00here\r\n".encode(),
        "no headers at all": b"just some bytes without a blank line",
        "a broken attachment": (
            f"To: {to}\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
            'Content-Type: application/pdf; name="../../etc/passwd"\r\n'
            "Content-Disposition: attachment; filename*=utf-8''%ff%fe\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n@@@@\r\n--zz"
        ).encode(),
    }


def test_hostile_mail_never_fails_core(admin, mailer):
    card = admin.card(admin.product("sales"), "ACME")
    address = card["email_address"]
    for name, raw in hostile_messages(address).items():
        answer = send(mailer, [address], raw)
        assert answer.status_code == 200, (name, answer.get_json())
        assert answer.get_json()["delivered"], name
    emails = admin.ok("GET", f"cards/{card['id']}/emails?limit=100")["items"]
    assert len(emails) == len(hostile_messages(address))
    for email in emails:
        for value in (email["subject"], email["text"], email["html"] or "", *email["cc"]):
            assert "\x00" not in value and "\x1b" not in value
        assert len(email["subject"]) <= 998 and len(email["cc"]) <= 100
        html = email["html"] or ""
        assert "<script" not in html and "onerror" not in html and "<iframe" not in html
        assert "onclick" not in html
    nested = next(email for email in emails if email["subject"] == "nested")
    assert "deep inside" in nested["text"]


def test_attachments_become_the_cards_files(admin, mailer):
    card = admin.card(admin.product("sales"), "ACME")
    pdf = b"%PDF-1.4 offer " + bytes(range(256)) * 40
    raw = message(
        card["email_address"],
        attachments=[("offer.pdf", "application/pdf", pdf), ("notes.txt", "text/plain", b"hi")],
    )
    send(mailer, [card["email_address"]], raw)
    send(mailer, [card["email_address"]], raw)  # a duplicate adds no files either
    (email,) = admin.ok("GET", f"cards/{card['id']}/emails")["items"]
    assert [(item["name"], item["size"]) for item in email["files"]] == [
        ("offer.pdf", len(pdf)),
        ("notes.txt", 2),
    ]
    files = admin.ok("GET", f"cards/{card['id']}/files")["items"]
    assert sorted(item["id"] for item in files) == sorted(item["id"] for item in email["files"])
    offer = email["files"][0]
    assert offer["uploaded_by"] is None and offer["card_id"] == card["id"]
    download = admin.get(f"files/{offer['id']}/content")
    assert download.status_code == 200 and download.data == pdf
    admin.ok("DELETE", f"files/{offer['id']}", status=204)
    (email,) = admin.ok("GET", f"cards/{card['id']}/emails")["items"]
    assert [item["name"] for item in email["files"]] == ["notes.txt"]


def test_cards_made_before_the_upgrade_get_an_address_and_keep_their_tasks(admin, database_url):
    from alembic import command
    from cardcrm.core.migrate import alembic_config

    card = admin.card(admin.product("sales"), "ACME")
    admin.task(card, "2027-01-04T10:00:00Z", "Call back")
    history = admin.ok("GET", f"cards/{card['id']}/history")["items"]
    config = alembic_config(database_url)
    command.downgrade(config, "0008")  # cards as they were before e-mail
    command.upgrade(config, "head")
    after = admin.ok("GET", f"cards/{card['id']}")
    assert ADDRESS.fullmatch(after["email_address"])
    assert after["email_address"] != card["email_address"]  # a new secret, made by 0009
    assert len(admin.ok("GET", f"cards/{card['id']}/tasks")["items"]) == 1
    assert admin.ok("GET", f"cards/{card['id']}/history")["items"] == history
