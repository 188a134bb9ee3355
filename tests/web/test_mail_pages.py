"""The card page's e-mail panel without a browser: the address, "New address" (htmx and a
plain form), and ``cards/_email_item.html`` showing one e-mail as the timeline includes it."""

from __future__ import annotations

import re
from typing import Any

from cardcrm.common.db import get_db
from cardcrm.core.mail.schemas import email_data
from cardcrm.core.mail.service import deliver
from flask import render_template

from tests.core.test_mail import message


def test_the_card_page_shows_the_address_and_the_latest_e_mails(app, admin, admin_web):
    card = admin.card(admin.product("sales"), "ACME")
    with app.app_context():
        session = get_db().session()
        deliver(session, [card["email_address"]], message(card["email_address"], "Signed offer"))
        session.close()
    page = admin_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    assert f'value="{card["email_address"]}"' in page
    assert "Signed offer" in page and "1 e-mail on this card" in page
    # The timeline shows the e-mail itself (its history row stands aside for it).
    item = re.search(r'<li class="tl-item tl-email" id="tl-email-\d+">(.*?)</li>', page, re.S)
    assert item is not None and "Signed offer" in item.group(1)
    assert "filed the e-mail" not in page
    assert "mail.js" in page


def test_new_address_replaces_the_old_one_and_tells_the_timeline(admin, admin_web):
    card = admin.card(admin.product("sales"), "ACME")
    answer = admin_web.htmx(f"/cards/{card['id']}/email-address/rotate")
    assert answer.status_code == 200
    assert answer.headers["HX-Trigger"] == "card-changed"
    rotated = admin.ok("GET", f"cards/{card['id']}")["email_address"]
    assert rotated != card["email_address"]
    assert rotated in answer.get_data(as_text=True)
    plain = admin_web.post(f"/cards/{card['id']}/email-address/rotate")
    assert plain.status_code == 302 and plain.headers["Location"].endswith("#email")
    assert admin.ok("GET", f"cards/{card['id']}")["email_address"] != rotated


def test_another_user_cannot_rotate_a_card_they_do_not_see(app, admin, new_user, web):
    card = admin.card(admin.product("sales"), "ACME")
    new_user("outsider@example.com")
    web.log_in("outsider@example.com")
    assert web.post(f"/cards/{card['id']}/email-address/rotate").status_code == 404
    assert admin.ok("GET", f"cards/{card['id']}")["email_address"] == card["email_address"]


def render_item(app: Any, email: dict[str, Any]) -> str:
    with app.test_request_context("/"):
        return render_template("cards/_email_item.html", email=email)


def test_one_e_mail_renders_with_its_sanitised_html_and_attachment_links(app, admin):
    card = admin.card(admin.product("sales"), "ACME")
    raw = message(
        card["email_address"],
        "Offer & terms",
        html="<p>Hello <b>there</b></p><script>alert(1)</script><img src=x onerror=alert(2)>",
        attachments=[("offer.pdf", "application/pdf", b"%PDF-1.4")],
        cc="bob@client.example",
    )
    with app.app_context():
        session = get_db().session()
        (delivered,) = deliver(session, [card["email_address"]], raw).delivered
        from cardcrm.core.mail.models import CardEmail

        email = email_data(session, session.get(CardEmail, delivered["email_id"]))
        session.close()
    html = render_item(app, email)
    assert "Offer &amp; terms" in html
    assert "Ana Client &lt;ana@client.example&gt;" in html
    assert "bob@client.example" in html
    assert "<b>there</b>" in html
    assert "<script" not in html and "onerror" not in html
    file_id = email["files"][0]["id"]
    assert f'href="/files/{file_id}/download"' in html and "offer.pdf" in html


def test_a_text_only_e_mail_is_escaped(app):
    email = {
        "id": 1,
        "from": "x@y",
        "to": [],
        "cc": [],
        "subject": "",
        "text": "<script>alert(1)</script> plain",
        "html": None,
        "received_at": "2026-12-05T10:00:00Z",
        "message_id": None,
        "files": [],
    }
    html = render_item(app, email)
    assert "&lt;script&gt;" in html and "<script" not in html
    assert "(no subject)" in html
