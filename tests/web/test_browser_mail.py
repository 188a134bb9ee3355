"""E-mail to the card in a real browser: a message sent with smtplib to the receiver that
``cardcrm up`` runs (CARDCRM_MAIL_LISTEN) shows on the card's page; the address is copied with
the Copy button and replaced with "New address". Screenshots at desktop and phone width."""

from __future__ import annotations

import smtplib
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from .conftest import DEMO_EMAIL, DEMO_PASSWORD, LIVE_MAIL

pytestmark = pytest.mark.slow


def api(tab: Any) -> dict[str, str]:
    answer = tab.request.post(
        "/api/v1/auth/token", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert answer.status == 201
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def new_card(tab: Any, title: str) -> dict[str, Any]:
    headers = api(tab)
    products = tab.request.get("/api/v1/products", headers=headers).json()["items"]
    sales = next(item for item in products if item["name"] == "Sales")
    answer = tab.request.post(
        f"/api/v1/products/{sales['id']}/cards", data={"title": title}, headers=headers
    )
    assert answer.status == 201
    card: dict[str, Any] = answer.json()
    return card


def send(live_server: str, to: str, subject: str, html: str) -> None:
    mail = EmailMessage()
    mail["From"] = "Ana Client <ana@client.example>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{subject.replace(' ', '-')}@client.example>"
    mail.set_content("Hello, the signed offer is attached.")
    mail.add_alternative(html, subtype="html")
    mail.add_attachment(
        b"%PDF-1.4 signed", maintype="application", subtype="pdf", filename="signed-offer.pdf"
    )
    host, port = LIVE_MAIL[live_server]
    with smtplib.SMTP(host, port, timeout=30) as client:
        assert client.sendmail(mail["From"], [to], mail.as_bytes(policy=policy.SMTP)) == {}


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_an_e_mail_sent_to_the_cards_address_shows_on_its_page(
    new_tab, live_server, artifact, width, height, name
):
    errors: list[str] = []
    tab = new_tab(width, height)
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else 0)
    card = new_card(tab, f"Mail story {name}")
    subject = f"Signed offer {name}"
    send(
        live_server,
        card["email_address"],
        subject,
        "<p>Hello, the <b>signed offer</b> is attached.</p><script>document.title='x'</script>",
    )
    tab.goto(f"/cards/{card['id']}")
    panel = tab.locator("#email")
    assert panel.get_by_label("The card's e-mail address").input_value() == card["email_address"]
    assert panel.get_by_role("link", name=subject).is_visible()
    assert "1 e-mail on this card" in panel.inner_text()
    timeline_item = tab.locator(".email-item", has_text=subject)
    if timeline_item.count():  # the timeline shows the e-mail whole (cards/_email_item.html)
        assert "signed offer" in timeline_item.first.inner_text()
        assert timeline_item.first.get_by_role("link", name="signed-offer.pdf").is_visible()
    assert tab.title() != "x"
    tab.screenshot(path=artifact(f"card-email-{name}.png"), full_page=True)
    if name == "phone":
        assert tab.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == []


def test_copying_and_replacing_the_cards_address(new_tab, live_server):
    tab = new_tab()
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    card = new_card(tab, "Mail address story")
    tab.goto(f"/cards/{card['id']}")
    panel = tab.locator("#email")
    panel.get_by_role("button", name="Copy").click()
    panel.get_by_role("status").get_by_text("Copied.").or_(
        panel.get_by_role("status").get_by_text("Selected", exact=False)
    ).wait_for()
    field = panel.get_by_label("The card's e-mail address")
    selected = tab.evaluate(
        "() => { const f = document.getElementById('card-email-address');"
        " return f.value.substring(f.selectionStart, f.selectionEnd); }"
    )
    copied = tab.evaluate("() => navigator.clipboard.readText().catch(() => '')")
    assert card["email_address"] in (copied, selected)

    tab.once("dialog", lambda dialog: dialog.dismiss())
    panel.get_by_role("button", name="New address").click()
    tab.wait_for_timeout(500)
    assert field.input_value() == card["email_address"]  # declined: nothing changed

    tab.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="New address").click()
    tab.wait_for_function(
        "old => document.getElementById('card-email-address').value !== old",
        arg=card["email_address"],
    )
    new_address = tab.locator("#card-email-address").input_value()
    assert new_address.startswith(f"card-{card['id']}-") and new_address != card["email_address"]
    host, port = LIVE_MAIL[live_server]
    with smtplib.SMTP(host, port, timeout=30) as client:
        client.ehlo()
        client.mail("ana@client.example")
        assert client.rcpt(card["email_address"])[0] == 550
        assert client.rcpt(new_address)[0] == 250
