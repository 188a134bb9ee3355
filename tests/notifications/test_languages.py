"""Messages in their recipient's language: the profile's (core's ``/me``), else
``CARDCRM_DEFAULT_LANGUAGE``; whoever caused them and the worker's own language play no part.

Core and the sidecar run for real (HTTP, an aiosmtpd SMTP server); users choose Romanian as
they would, with ``PATCH /api/v1/me``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cardcrm.notifications.config import from_env
from cardcrm.notifications.worker import Worker

from .helpers import html_of, sales_card, text_of


def speaks_romanian(user) -> None:
    user.ok("PATCH", "me", {"language": "ro"})


def test_a_romanian_owner_hears_of_a_status_change_in_romanian(
    admin, member, notifications, worker, smtp
):
    speaks_romanian(member)
    notifications(member).preferences(email=member.user.email)
    card = sales_card(admin, member)
    product = admin.ok("GET", f"products/{card['product_id']}")
    won = next(status for status in product["statuses"] if status["group"] == "positive")
    admin.patch(f"cards/{card['id']}", {"status_id": won["id"]})

    worker.drain()

    [message] = smtp.wait_for(1)
    assert message["Subject"] == "ACME renewal a trecut în Won"
    text = text_of(message)
    moved = "Admin a mutat cardul dumneavoastră „ACME renewal” din Database în Won (pozitiv)."
    assert moved in text
    assert "Deschideți cardul: https://crm.example.com/cards/" in text
    assert "Primiți acest mesaj datorită setărilor de notificare din cardcrm." in text
    assert ">Deschideți cardul</a>" in html_of(message)
    # the inbox item was put in the same words
    [item] = notifications(member).inbox()
    assert item["title"] == "ACME renewal a trecut în Won"


def test_a_mention_is_romanian_for_a_romanian_user_and_english_for_an_english_one(
    admin, member, new_user, notifications, worker, smtp
):
    ana = new_user("ana@example.com")
    bob = new_user("bob@example.com")
    speaks_romanian(member)
    speaks_romanian(ana)  # the author's language is not the message's
    card = sales_card(admin, member, title="Acme renewal", members=(ana, bob))
    for user in (member, bob):
        notifications(user).preferences(email=user.user.email)
    ana.ok(
        "POST",
        f"cards/{card['id']}/notes",
        {"body": "Call them on Friday.", "mentions": [member.user.id, bob.user.id]},
        status=201,
    )

    worker.drain()

    smtp.wait_for(2)
    [romanian] = smtp.to("member@example.com")
    assert romanian["Subject"] == "Ana v-a menționat pe „Acme renewal”"
    assert "Ana v-a menționat într-o notiță pe „Acme renewal”:" in text_of(romanian)
    assert "Call them on Friday." in text_of(romanian)
    [english] = smtp.to("bob@example.com")
    assert english["Subject"] == "Ana mentioned you on “Acme renewal”"
    assert "Open the card:" in text_of(english) and "Deschideți" not in text_of(english)


def test_the_daily_digest_of_a_romanian_user_is_romanian_with_romanian_dates(
    admin, member, notifications, worker, smtp, clock
):
    speaks_romanian(member)
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    notifications(member).preferences(
        email=member.user.email, daily_digest_at="08:00", assigned=False
    )
    card = sales_card(admin, member)
    member.task(card, "2026-11-27T10:00:00Z", "Sună la Acme")

    clock.set(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))  # Friday 08:00 in UTC
    worker.drain()

    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Ziua dumneavoastră, vin. 27 nov.: 1 de făcut, 0 întârziate"
    text = text_of(message)
    assert "Azi: 1 de făcut, 0 întârziate, 0 închise, 0 amânate." in text
    assert "27 nov. 10:00: Sună la Acme — ACME renewal" in text
    assert "Deschideți Azi: https://crm.example.com/" in text


def test_a_user_without_a_language_gets_the_installations_default(
    admin, member, notifications, settings, smtp
):
    worker = Worker({**settings, "DEFAULT_LANGUAGE": "ro"}, clock=settings["CLOCK"])
    try:
        notifications(member).preferences(email=member.user.email)
        sales_card(admin, member)  # admin made the card, so no message yet
        card = sales_card(admin, member, title="Second")
        product = admin.ok("GET", f"products/{card['product_id']}")
        lost = next(status for status in product["statuses"] if status["group"] == "negative")
        admin.patch(f"cards/{card['id']}", {"status_id": lost["id"]})
        worker.drain()
    finally:
        worker.context.close()

    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Second a trecut în Lost"


def test_the_default_language_is_read_from_the_environment(tmp_path):
    assert from_env({"CARDCRM_DEFAULT_LANGUAGE": "ro"}, str(tmp_path))["DEFAULT_LANGUAGE"] == "ro"
    assert from_env({}, str(tmp_path))["DEFAULT_LANGUAGE"] == "en"


def test_the_address_check_is_romanian_for_a_romanian_user_and_so_is_its_page(
    member, notifications, notifications_app, smtp
):
    speaks_romanian(member)
    notifications(member).ok("PUT", "preferences", {"email": "ana.home@example.org"})

    [message] = smtp.wait_for(1)
    assert message["Subject"] == "Confirmați adresa pentru notificările cardcrm"
    text = text_of(message)
    assert "Member a cerut ca cardcrm să-i trimită notificările la ana.home@example.org." in text
    assert "în cel mult 24 de ore" in text
    [token] = re.findall(r"https://crm\.example\.com/verify/([A-Za-z0-9_-]+)", text)

    # The page the link opens speaks the browser's language.
    page = notifications_app.test_client().get(
        f"/verify/{token}", headers={"Accept": "text/html", "Accept-Language": "ro-RO,ro"}
    )
    body = page.get_data(as_text=True)
    assert '<html lang="ro">' in body and "Confirmați această adresă</button>" in body
