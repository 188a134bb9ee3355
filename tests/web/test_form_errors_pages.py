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


# --- a product's settings ---------------------------------------------------------------------


def test_renaming_a_product_to_nothing_is_refused_beside_the_name(admin_web, admin, sales):
    answer = admin_web.post(
        f"/products/{sales['id']}/settings", {"name": " ", "version": str(sales["version"])}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "product-rename") == "Give the product a name."
    assert "Please check the form" not in html  # nothing at the top of the page
    assert admin.ok("GET", f"products/{sales['id']}")["name"] == "Sales"


def test_a_new_status_without_a_name_keeps_its_group(admin_web, admin, sales):
    answer = admin_web.post(f"/products/{sales['id']}/statuses", {"name": "", "group": "negative"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "new-status-name") == "Give the status a name."
    assert re.search(r'<option value="negative" selected>', html)
    assert len(admin.ok("GET", f"products/{sales['id']}")["statuses"]) == len(sales["statuses"])


def test_a_duplicate_status_name_shows_beside_that_status_with_the_typed_name(
    admin_web, admin, sales
):
    first, second = sales["statuses"][:2]
    answer = admin_web.post(
        f"/statuses/{second['id']}", {"name": first["name"], "group": second["group"]}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, f"status-name-{second['id']}") == (
        "Status names must be unique within a product."
    )
    assert described_by(html, f"status-name-{first['id']}") == ""
    assert html.count(f'value="{first["name"]}"') == 2  # the typed name, kept


def test_deleting_a_status_with_cards_asks_where_they_go_beside_the_choice(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    answer = admin_web.post(f"/statuses/{card['status_id']}/delete", {"move_to": ""})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, f"status-move-{card['status_id']}") == (
        "Cards are in this status: choose the status they go to."
    )
    assert "?move_to" not in html


def test_a_new_field_without_a_label_or_choices_keeps_what_was_typed(admin_web, admin, sales):
    path = f"/products/{sales['id']}/fields"
    version = str(admin.ok("GET", f"products/{sales['id']}")["version"])
    answer = admin_web.post(path, {"label": "", "type": "choice", "version": version})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "new-field-label") == "Give the field a label."
    assert re.search(r'<option value="choice" selected>', html)
    answer = admin_web.post(
        path, {"label": "Region", "type": "choice", "choices": " , ", "version": version}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "new-field-choices") == "A choice field needs its choices."
    assert 'value="Region"' in html
    fields = admin.ok("GET", f"products/{sales['id']}")["fields"]
    assert "region" not in [field["key"] for field in fields]


# --- "Add a task" on the card page ------------------------------------------------------------


def tasks_of(api, card):
    return api.ok("GET", f"cards/{card['id']}/tasks")["items"]


def test_a_task_without_text_or_date_comes_back_on_the_card_page_without_javascript(
    admin_web, admin, member, sales
):
    card = admin.card(sales, "ACME")
    answer = admin_web.post(
        f"/cards/{card['id']}/tasks",
        {"text": " ", "due_date": "", "due_time": "09:30", "assignee_id": str(member.user.id)},
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert '<h1 class="card-title"' in html or "ACME" in html  # the whole card page
    assert described_by(html, "task-text") == "Say what is to be done."
    assert described_by(html, "task-date") == "Give the deadline's date."
    assert 'value="09:30"' in html
    assert re.search(rf'<option value="{member.user.id}" selected>', html)
    assert tasks_of(admin, card) == []


def test_a_task_of_an_unknown_type_is_refused_beside_the_type(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    answer = admin_web.htmx(
        f"/cards/{card['id']}/tasks", {"text": "Call Ana", "due_date": "2030-01-07", "type": "x"}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "task-type").startswith("Unknown task type")
    assert 'value="Call Ana"' in html and 'value="2030-01-07"' in html
    assert tasks_of(admin, card) == []


# --- notes ------------------------------------------------------------------------------------


def test_an_over_long_note_without_javascript_keeps_the_draft_beside_its_message(
    admin_web, admin, sales
):
    card = admin.card(sales, "ACME")
    answer = admin_web.post(f"/cards/{card['id']}/notes", {"body": "  \n  "})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "note-body") == "A note needs some text."
    assert "The note was not saved" not in html
    assert admin.ok("GET", f"cards/{card['id']}/notes")["items"] == []


def test_an_emptied_note_edit_shows_its_message_beside_the_box(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    note = admin.ok("POST", f"cards/{card['id']}/notes", {"body": "Called Ana"}, status=201)
    answer = admin_web.htmx(
        f"/notes/{note['id']}/edit", {"body": "", "version": str(note["version"])}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, f"note-{note['id']}-body") == "A note needs some text."
    assert admin.ok("GET", f"notes/{note['id']}")["body"] == "Called Ana"


# --- "Save as favourite" on a filtered card list ----------------------------------------------


def test_a_favourite_without_a_name_comes_back_on_the_same_filtered_page(
    member_web, admin, member, sales
):
    admin.card(sales, "ACME deal")
    admin.card(sales, "Globex")
    page = member_web.get(f"/products/{sales['id']}?q=ACME").get_data(as_text=True)
    action = unescape(re.search(r'action="(/favorites[^"]*)"', page).group(1))
    assert action == "/favorites?q=ACME"
    form = {"name": " ", "product_id": str(sales["id"]), "query.q": "ACME"}
    answer = member_web.post(action, form)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "favorite-name") == "Give this filter a name."
    assert "ACME deal" in html and "Globex" not in html  # still the filtered list
    assert "The favourite was not saved" not in html
    assert member.ok("GET", "favorites")["items"] == []


# --- contacts, users, CSV imports -------------------------------------------------------------


def test_a_contact_without_a_name_keeps_what_was_typed(admin_web, admin):
    answer = admin_web.post(
        "/contacts", {"kind": "company", "name": "", "emails": "office@acme.example"}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "new-name") == "Give the contact a name."
    assert "office@acme.example</textarea>" in html
    assert re.search(r'<option value="company" selected>', html)
    assert admin.ok("GET", "contacts")["items"] == []


def test_a_contact_made_on_the_card_page_is_refused_beside_its_name_only(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    answer = admin_web.htmx(
        f"/cards/{card['id']}/contacts/new",
        {"name": "", "email": "ana@example.com", "version": str(card["version"])},
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "new-contact-name") == "Give the contact a name."
    assert 'value="ana@example.com"' in html
    assert 'role="alert"' not in html  # not said a second time above the panel
    assert admin.ok("GET", "contacts")["items"] == []


def test_a_new_user_without_a_name_is_told_beside_the_name(admin_web, admin):
    answer = admin_web.post(
        "/users", {"name": "", "email": "ana@example.com", "password": "long enough pass"}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "user-name") == "Give the person's name."
    assert 'value="ana@example.com"' in html
    assert "ana@example.com" not in [user["email"] for user in admin.ok("GET", "users")["items"]]


def test_an_import_without_a_file_says_so_beside_the_file_input(admin_web, sales):
    answer = admin_web.post(
        f"/products/{sales['id']}/import", {"dry_run": "1"}, content_type="multipart/form-data"
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert described_by(html, "import-file") == "Choose a CSV file to import."
    assert "Nothing was written" not in html
    assert re.search(r'id="import-dry-run"[^>]*checked', html)
