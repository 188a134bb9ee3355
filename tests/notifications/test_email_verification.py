"""A notification address other than the account's own gets nothing but a confirmation link
until its owner confirms it, through a real SMTP server; notifications meanwhile go to the
account's own address. Links work once, for a day, for the address they were sent to."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from .helpers import iso, sales_card, text_of

HOME = "ana.home@example.org"
LINK = re.compile(r"https://crm\.example\.com/verify/([A-Za-z0-9_-]+)")
#: What a browser asks for when it opens a link.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def link_token(message) -> str:
    [token] = LINK.findall(text_of(message))
    return token


def assign(admin, member, clock, text: str) -> None:
    card = sales_card(admin, member)
    admin.task(card, iso(clock.now + timedelta(days=1)), text, assignee_id=member.user.id)


@pytest.fixture
def page(notifications_app):
    """The confirmation page, as a browser opens it from the e-mail (nobody logged in)."""
    client = notifications_app.test_client()

    def open_link(token: str, method: str = "GET"):
        response = client.open(
            f"/verify/{token}", method=method, headers={"Accept": BROWSER_ACCEPT}
        )
        assert response.mimetype == "text/html"
        return response

    return open_link


def test_a_new_address_gets_one_link_and_no_notification_until_its_owner_confirms(
    admin, member, notifications, worker, smtp, clock, page
):
    api = notifications(member)
    saved = api.ok("PUT", "preferences", {"email": HOME})
    assert saved["email"] == HOME and saved["email_verified"] is False
    assert saved["email_in_effect"] == "member@example.com"
    assert saved["email_verification_sent_at"] is not None
    [confirmation] = smtp.wait_for(1)
    assert smtp.envelopes == [("cardcrm@example.com", [HOME])]
    assert confirmation["Subject"] == "Confirm your address for cardcrm notifications"
    assert "Member asked cardcrm to send their notifications to" in text_of(confirmation)
    token = link_token(confirmation)

    # Before the owner confirms, a notification goes to the account's own address.
    assign(admin, member, clock, "Before confirming")
    worker.drain()
    assert [rcpt for _, rcpt in smtp.envelopes] == [[HOME], ["member@example.com"]]
    assert "Before confirming" in smtp.messages[1]["Subject"]
    [email] = api.deliveries(channel="email")
    assert email["state"] == "sent"

    # Opening the link (as a mail scanner would) confirms nothing; its button does.
    shown = page(token)
    assert shown.status_code == 200
    assert HOME in shown.text and '<form method="post">' in shown.text
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert api.ok("GET", "preferences")["email_verified"] is False
    confirmed = page(token, "POST")
    assert confirmed.status_code == 200 and "Address confirmed" in confirmed.text
    now = api.ok("GET", "preferences")
    assert now["email_verified"] is True and now["email_in_effect"] == HOME

    assign(admin, member, clock, "After confirming")
    worker.drain()
    assert smtp.envelopes[2][1] == [HOME]
    assert "After confirming" in smtp.messages[2]["Subject"]
    assert len(smtp.messages) == 3

    # The link worked once.
    again = page(token, "POST")
    assert again.status_code == 410 and "used already" in again.text


def test_the_accounts_own_address_needs_no_confirmation_in_any_case(
    admin, member, notifications, worker, smtp, clock, page
):
    api = notifications(member)
    api.preferences(email=HOME)
    [confirmation] = smtp.wait_for(1)
    clock.advance(seconds=5)  # within the minute: the own address is no new message

    saved = api.preferences(email="Member@Example.com")
    assert saved["email_verified"] is True and saved["email_in_effect"] == "Member@Example.com"
    assign(admin, member, clock, "Straight to me")
    worker.drain()
    assert [rcpt for _, rcpt in smtp.envelopes] == [[HOME], ["Member@Example.com"]]

    # The link sent to the address given up confirms nothing any more.
    stale = page(link_token(confirmation), "POST")
    assert stale.status_code == 410 and "no longer in the notification settings" in stale.text
    assert api.ok("GET", "preferences")["email"] == "Member@Example.com"


def test_unknown_expired_and_used_links_are_refused_with_a_clear_answer(
    member, notifications, smtp, clock, page
):
    api = notifications(member)
    api.preferences(email=HOME)
    token = link_token(smtp.wait_for(1)[0])

    for method in ("GET", "POST"):
        wrong = page(token[:-2] + "xx", method)
        assert wrong.status_code == 404 and "not valid" in wrong.text
        assert page("not-a-token", method).status_code == 404
    # A program (no HTML asked for) gets the same answer as a problem document.
    problem = api.client.post(f"/verify/{token}x")
    assert problem.status_code == 404 and problem.mimetype == "application/problem+json"
    assert "not valid" in problem.get_json()["detail"]

    clock.advance(hours=24, seconds=1)
    for method in ("GET", "POST"):
        expired = page(token, method)
        assert expired.status_code == 410 and "expired" in expired.text
    assert api.client.post(f"/verify/{token}").get_json()["status"] == 410
    assert api.ok("GET", "preferences")["email_verified"] is False

    # A new link (a day later, no limit in the way) works, once.
    api.ok("POST", "preferences/email/resend")
    fresh = link_token(smtp.wait_for(2)[1])
    assert fresh != token
    assert page(fresh, "POST").status_code == 200
    assert page(fresh, "POST").status_code == 410
    assert page(token, "POST").status_code == 410  # the old one still counts as done


def test_confirmation_messages_go_out_at_most_once_a_minute(
    member, notifications, smtp, clock, page
):
    api = notifications(member)
    api.preferences(email=HOME, assigned=True)
    first = link_token(smtp.wait_for(1)[0])

    # Asking again, or naming yet another address, within the minute: 429, nothing changes.
    clock.advance(seconds=20)
    refused = api.request("POST", "preferences/email/resend")
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"] == "40"
    other = api.request("PUT", "preferences", {"email": "someone@example.net", "assigned": False})
    assert other.status_code == 429 and other.headers["Retry-After"] == "40"
    kept = api.ok("GET", "preferences")
    assert kept["email"] == HOME and kept["assigned"] is True
    # Saving the pending address again (a settings form saved twice) sends nothing.
    assert api.preferences(email=HOME, assigned=False)["email_verified"] is False
    assert len(smtp.messages) == 1

    clock.advance(seconds=40)
    resent = api.ok("POST", "preferences/email/resend")
    assert resent["email_verification_sent_at"] is not None
    second = link_token(smtp.wait_for(2)[1])
    assert smtp.envelopes[1][1] == [HOME] and second != first
    assert page(first, "POST").status_code == 200  # earlier links keep working

    # Nothing to confirm any more.
    done = api.request("POST", "preferences/email/resend")
    assert done.status_code == 409
    assert len(smtp.messages) == 2


def test_a_refused_confirmation_message_is_shown_and_can_be_sent_again(member, notifications, smtp):
    api = notifications(member)
    smtp.refuse_with = "550 5.1.1 no such mailbox"
    saved = api.preferences(email=HOME)
    assert saved["email_verification_sent_at"] is None
    assert "550" in saved["email_verification_error"]

    # A message that was never sent does not count towards the limit.
    refused = api.request("POST", "preferences/email/resend")
    assert refused.status_code == 422 and "email" in refused.get_json()["errors"]
    smtp.refuse_with = None
    resent = api.ok("POST", "preferences/email/resend")
    assert resent["email_verification_error"] is None
    assert resent["email_verification_sent_at"] is not None
    assert [rcpt for _, rcpt in smtp.envelopes] == [[HOME]]


def test_addresses_saved_before_verification_existed_get_nothing_until_confirmed(
    admin, member, notifications, worker, smtp, clock, settings, page
):
    api = notifications(member)
    api.preferences(email=member.user.email)
    # As migration 0004 leaves a row saved before: an address nobody confirmed.
    engine = create_engine(settings["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE preferences SET email = :email, email_verified_at = NULL"),
            {"email": HOME},
        )
    engine.dispose()
    assert api.ok("GET", "preferences")["email_in_effect"] == "member@example.com"

    assign(admin, member, clock, "Still to the account")
    worker.drain()
    assert [rcpt for _, rcpt in smtp.envelopes] == [["member@example.com"]]

    api.ok("POST", "preferences/email/resend")
    assert smtp.envelopes[1][1] == [HOME]
    assert page(link_token(smtp.messages[1]), "POST").status_code == 200
    assign(admin, member, clock, "Now to the confirmed address")
    worker.drain()
    assert smtp.envelopes[2][1] == [HOME] and len(smtp.messages) == 3


def test_the_accounts_own_address_saved_before_is_verified_without_a_message(
    member, notifications, smtp, settings
):
    api = notifications(member)
    api.preferences(email=member.user.email)
    engine = create_engine(settings["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE preferences SET email_verified_at = NULL"))
    engine.dispose()
    assert api.ok("GET", "preferences")["email_verified"] is False

    assert api.ok("POST", "preferences/email/resend")["email_verified"] is True
    assert smtp.messages == []


def test_while_core_cannot_say_the_accounts_address_the_e_mail_waits_and_the_inbox_does_not(
    admin, member, notifications, worker, smtp, clock, core_server
):
    api = notifications(member)
    api.preferences(email=HOME)
    assert len(smtp.wait_for(1)) == 1
    assign(admin, member, clock, "Sent once core answers")
    worker.follow()

    core_server.server.stop()
    try:
        worker.deliver()
        assert len(smtp.messages) == 1  # the confirmation only: nothing to the unverified one
    finally:
        live_server = type(core_server.server)
        core_server.server = live_server(core_server.app, port=core_server.server.port)
    [email] = api.deliveries(channel="email")
    assert email["state"] == "retrying" and "account's address" in email["last_error"]
    [item] = api.inbox()  # the inbox needs no address: it did not wait
    assert "Sent once core answers" in item["title"]

    worker.drain(clock.advance(minutes=5))
    assert smtp.envelopes[1][1] == ["member@example.com"]
    assert api.deliveries(channel="email")[0]["state"] == "sent"


@pytest.fixture
def no_public_url(settings):
    settings.pop("PUBLIC_URL")


def test_without_a_public_url_no_link_goes_to_a_host_the_request_named(
    no_public_url, member, notifications_app, smtp
):
    # The Host header is the sender's to choose: a link built from it would point a victim's
    # mail scanner, token and all, at the sender's own server.
    client = notifications_app.test_client()
    headers = {"Authorization": f"Bearer {member.token}"}
    response = client.put(
        "/api/v1/preferences",
        json={"email": HOME},
        headers=headers,
        base_url="http://attacker.example/",
    )
    assert response.status_code == 200
    assert response.get_json()["email_verified"] is False
    resend = client.post(
        "/api/v1/preferences/email/resend", headers=headers, base_url="http://attacker.example/"
    )
    assert resend.status_code == 409
    assert "CARDCRM_NOTIFICATIONS_PUBLIC_URL" in resend.get_json()["detail"]
    assert smtp.envelopes == []

    # On a developer's machine (a loopback host) the request's own address is the link's.
    client.put("/api/v1/preferences", json={"email": None}, headers=headers)
    client.put(
        "/api/v1/preferences",
        json={"email": HOME},
        headers=headers,
        base_url="http://127.0.0.1:8000/notifications/",
    )
    [message] = smtp.wait_for(1)
    assert "http://127.0.0.1:8000/notifications/verify/" in text_of(message)
