"""Web pages given input crafted to break them answer a page or a 4xx, never a 500 (issue 13):
the Today view at the ends of the calendar, control characters in forms, huge numbers."""

from __future__ import annotations

import pytest


@pytest.fixture
def card(admin):
    return admin.card(admin.product("sales", name="Sales"), "ACME deal")


@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-31",
        "from=9999-12-31&to=9999-12-31",
        "to=9999-12-31",
        "from=0001-01-01&to=0001-01-01",
        "from=0001-01-01",
        "from=9998-12-31&to=9999-12-31",
    ],
)
def test_the_today_page_at_the_ends_of_the_calendar_is_a_page_not_a_500(admin_web, query):
    answer = admin_web.get(f"/?{query}")
    assert answer.status_code in (200, 422), answer.get_data(as_text=True)[:800]
    assert answer.mimetype == "text/html"
    assert "dates run from" in answer.get_data(as_text=True)


def test_the_last_supported_day_shows_its_today_page(admin_web):
    answer = admin_web.get("/?from=9998-12-31&to=9998-12-31")
    assert answer.status_code == 200
    assert "9998" in answer.get_data(as_text=True)


def test_postponing_past_the_end_of_the_calendar_is_refused_not_a_500(admin_web, admin, card):
    task = admin.task(card, "9998-12-31T12:00:00Z")
    for when in ("day", "monday"):
        answer = admin_web.htmx(f"/tasks/{task['id']}/postpone", {"when": when})
        assert answer.status_code == 422, answer.get_data(as_text=True)[:800]
    assert admin.ok("GET", f"tasks/{task['id']}")["due"] == "9998-12-31T12:00:00Z"


@pytest.mark.parametrize("character", ["\x0b", "\x00", "\x7f", "\x9b"])
def test_a_form_with_a_control_character_is_a_422_naming_the_field(
    admin_web, admin, card, character
):
    answer = admin_web.post(
        f"/cards/{card['id']}/tasks", {"text": f"Call{character}", "due_date": "2030-01-02"}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422, html[:800]
    assert "text" in html and f"U+{ord(character):04X}" in html
    assert admin.ok("GET", f"cards/{card['id']}/tasks")["items"] == []
    answer = admin_web.htmx(f"/cards/{card['id']}", {"title": f"New{character}title"})
    assert answer.status_code == 422
    assert admin.ok("GET", f"cards/{card['id']}")["title"] == "ACME deal"


def test_a_control_character_in_a_page_query_is_a_422(admin_web, card):
    answer = admin_web.get(f"/products/{card['product_id']}?q=a%0Bb")
    assert answer.status_code == 422
    assert answer.mimetype == "text/html"


def test_an_export_with_an_owner_id_past_64_bits_is_a_422_before_any_byte(admin_web, card):
    answer = admin_web.get(f"/products/{card['product_id']}/export.csv?owner_id={2**63}")
    assert answer.status_code == 422
    assert answer.mimetype == "text/html"


def test_numbers_past_64_bits_in_pages_and_forms_are_a_422(admin_web, admin, card):
    big = str(2**63)
    for path in (f"/products/{card['product_id']}?owner_id={big}", f"/wall?before={big}"):
        answer = admin_web.get(path)
        assert answer.status_code == 422, path
        assert answer.mimetype == "text/html"
    task = admin.task(card, "2030-01-01T09:00:00Z")
    posts = [
        (f"/tasks/{task['id']}/reassign", {"assignee_id": big}),
        (f"/cards/{card['id']}", {"title": "New", "owner_id": big}),
        ("/favorites", {"name": "Mine", "product_id": big}),
    ]
    for path, data in posts:
        answer = admin_web.htmx(path, data)
        assert answer.status_code == 422, (path, answer.get_data(as_text=True)[:800])
    assert admin.ok("GET", f"cards/{card['id']}")["title"] == "ACME deal"


def test_a_card_page_shows_a_date_time_stored_past_the_supported_calendar(
    app, db_session, admin_web, admin
):
    from cardcrm.core.cards.models import Card

    definitions = [{"key": "meeting", "label": "Meeting", "type": "datetime"}]
    statuses = [{"name": "New", "group": "inactive"}]
    product = admin.ok(
        "POST", "products", {"name": "Custom", "statuses": statuses, "fields": definitions}
    )
    card = admin.card(product, "Old row")
    with app.app_context():
        # As stored before such values were refused.
        stored = db_session.get(Card, card["id"])
        stored.fields = {"meeting": "9999-12-31T23:30:00-05:00"}
        db_session.commit()
    assert admin.ok("GET", f"cards/{card['id']}")["fields"]["meeting"].startswith("9999")
    answer = admin_web.get(f"/cards/{card['id']}")
    assert answer.status_code == 200
    assert "Old row" in answer.get_data(as_text=True)
