"""Refused web forms through Flask's test client: the page comes back (422) with what was typed,
each message beside the field it is about (the input points at it with aria-describedby) and
worded for people, and nothing is changed."""

from __future__ import annotations

import re
from html import unescape

import pytest


@pytest.fixture
def sales(admin, member):
    product = admin.product("sales", name="Sales")
    admin.grant(product, member)
    return product


def described_by(html: str, input_id: str) -> str:
    """The text of the message an input points at with aria-describedby ('' if none)."""
    tag = re.search(rf"<(?:input|select|textarea)[^>]*\bid=\"{input_id}\"[^>]*>", html)
    assert tag, f"no input {input_id}"
    pointer = re.search(r'aria-describedby="([^"]+)"', tag.group(0))
    if not pointer or 'aria-invalid="true"' not in tag.group(0):
        return ""
    message = re.search(rf'<p class="field-error" id="{pointer.group(1)}">(.*?)</p>', html, re.S)
    assert message, f"aria-describedby of {input_id} points at nothing"
    return unescape(message.group(1))


def titles(api, product):
    return [card["title"] for card in api.ok("GET", f"products/{product['id']}/cards")["items"]]


# --- "New card" on a product's card list ------------------------------------------------------


def test_a_card_without_a_title_is_refused_beside_the_title_and_the_choices_are_kept(
    member_web, admin, member, sales
):
    won = next(status for status in sales["statuses"] if status["group"] == "positive")
    answer = member_web.post(
        f"/products/{sales['id']}/cards",
        {"title": "   ", "status_id": str(won["id"]), "owner_id": str(admin.user.id)},
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "card-title") == "Give the card a title."
    assert "Length must be between" not in html
    assert "The card was not created" not in html  # no message at the top of the page
    assert re.search(rf'<option value="{won["id"]}" selected>', html)
    assert re.search(rf'<option value="{admin.user.id}" selected>', html)
    assert titles(admin, sales) == []


def test_a_too_long_title_is_kept_and_explained(member_web, admin, sales):
    answer = member_web.post(f"/products/{sales['id']}/cards", {"title": "x" * 501})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "card-title") == "Keep the title to 500 characters or fewer."
    assert f'value="{"x" * 501}"' in html
    assert titles(admin, sales) == []


def test_a_missing_required_field_is_named_by_its_label_with_the_title_kept(admin_web, admin):
    recruiting = admin.product("recruiting", name="Hiring")
    answer = admin_web.post(f"/products/{recruiting['id']}/cards", {"title": "Ana Popescu"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "field-position") == "Fill in Position."
    assert described_by(html, "card-title") == ""
    assert 'value="Ana Popescu"' in html
    assert titles(admin, recruiting) == []


def test_a_blank_title_and_a_missing_field_are_both_shown_at_once(admin_web, admin):
    recruiting = admin.product("recruiting", name="Hiring")
    answer = admin_web.post(
        f"/products/{recruiting['id']}/cards", {"title": "", "field.position": ""}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "card-title") == "Give the card a title."
    assert described_by(html, "field-position") == "Fill in Position."


def test_a_good_card_is_still_created(member_web, admin, sales):
    answer = member_web.post(f"/products/{sales['id']}/cards", {"title": "ACME"})
    assert answer.status_code == 302
    assert titles(admin, sales) == ["ACME"]


def test_a_blank_title_on_the_card_page_is_worded_for_people(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    answer = admin_web.post(
        f"/cards/{card['id']}",
        {"version": "1", "title": "", "status_id": str(card["status_id"])},
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "card-title") == "Give the card a title."
    assert admin.ok("GET", f"cards/{card['id']}")["title"] == "ACME"
