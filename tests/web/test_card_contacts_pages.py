"""The card page's contacts panel: find and link a contact (accents ignored), create one in
place (a duplicate offers the existing one), make primary, remove; a stale version is refused
with nothing lost; without JavaScript the same forms work; the contact page lists the card."""

from __future__ import annotations

from typing import Any

import pytest


def make_contact(api: Any, name: str, **body: Any) -> dict:
    return api.ok("POST", "contacts", {"name": name, **body}, status=201)


@pytest.fixture
def deal(admin: Any) -> dict:
    return admin.card(admin.product("sales", name="Sales"), "ACME deal")


def card_json(api: Any, card: dict) -> dict:
    return api.ok("GET", f"cards/{card['id']}")


def test_the_picker_finds_contacts_by_name_email_or_phone_ignoring_accents(admin_web, admin, deal):
    stefan = make_contact(admin, "Ștefan Popescu", emails=["stefan@example.com"])
    ana = make_contact(admin, "Ana Ionescu", phones=["+40 721 000 111"])
    search = f"/cards/{deal['id']}/contacts/search?q="
    page = admin_web.get(search + "stefan").get_data(as_text=True)
    assert "Ștefan Popescu" in page and "Ana Ionescu" not in page
    assert f'data-contact-id="{stefan["id"]}"' in page and 'role="option"' in page
    assert "Ana Ionescu" in admin_web.get(search + "0721000111").get_data(as_text=True)
    assert "Ștefan Popescu" in admin_web.get(search + "STEFAN@EXAMPLE").get_data(as_text=True)
    assert "No contact matches" in admin_web.get(search + "zzz").get_data(as_text=True)
    # A contact already on the card is not offered again.
    admin.ok("PATCH", f"cards/{deal['id']}", {"contact_id": ana["id"]})
    assert "Ana Ionescu" not in admin_web.get(search + "ana").get_data(as_text=True)


def test_linking_makes_the_first_contact_primary_and_says_the_card_changed(admin_web, admin, deal):
    first = make_contact(admin, "First Person")
    second = make_contact(admin, "Second Person", emails=["second@example.com"])
    version = card_json(admin, deal)["version"]
    answer = admin_web.htmx(
        f"/cards/{deal['id']}/contacts", {"contact_id": first["id"], "version": version}
    )
    assert answer.status_code == 200 and answer.headers["HX-Trigger"] == "card-changed"
    assert 'id="contacts"' in answer.get_data(as_text=True)
    assert card_json(admin, deal)["contact_id"] == first["id"]

    answer = admin_web.htmx(
        f"/cards/{deal['id']}/contacts", {"contact_id": second["id"], "version": version + 1}
    )
    panel = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert 'href="mailto:second@example.com"' in panel
    assert f'data-previous-version="{version + 1}"' in panel
    assert f'data-card-version="{version + 2}"' in panel
    now = card_json(admin, deal)
    assert (now["contact_id"], now["contact_ids"]) == (first["id"], [second["id"]])


def test_make_primary_swaps_and_remove_unlinks(admin_web, admin, deal):
    first, second = make_contact(admin, "First"), make_contact(admin, "Second")
    card = admin.ok(
        "PATCH", f"cards/{deal['id']}", {"contact_id": first["id"], "contact_ids": [second["id"]]}
    )
    path = f"/cards/{deal['id']}/contacts/{second['id']}"
    assert admin_web.htmx(path + "/primary", {"version": card["version"]}).status_code == 200
    card = card_json(admin, deal)
    assert (card["contact_id"], card["contact_ids"]) == (second["id"], [first["id"]])
    answer = admin_web.htmx(path + "/remove", {"version": card["version"]})
    assert answer.status_code == 200 and answer.headers["HX-Trigger"] == "card-changed"
    card = card_json(admin, deal)
    assert (card["contact_id"], card["contact_ids"]) == (None, [first["id"]])
    history = admin.ok("GET", f"cards/{deal['id']}/history")["items"]
    assert history[-1]["data"]["changes"]["contact_id"] == {"before": second["id"], "after": None}


def test_a_new_contact_is_created_in_place_and_a_duplicate_offers_the_existing_one(
    admin_web, admin, deal
):
    version = card_json(admin, deal)["version"]
    typed = {"name": "Maria Pop", "email": "maria@example.com", "phone": "", "version": version}
    created = admin_web.htmx(f"/cards/{deal['id']}/contacts/new", typed)
    assert created.status_code == 200 and created.headers["HX-Trigger"] == "card-changed"
    maria = admin.ok("GET", "contacts?q=maria")["items"]
    assert [contact["name"] for contact in maria] == ["Maria Pop"]
    assert card_json(admin, deal)["contact_id"] == maria[0]["id"]

    other = admin.card(admin.product("sales"), "Other deal")
    again = {**typed, "name": "Maria P.", "version": card_json(admin, other)["version"]}
    duplicate = admin_web.htmx(f"/cards/{other['id']}/contacts/new", again)
    panel = duplicate.get_data(as_text=True)
    assert duplicate.status_code == 409 and "HX-Trigger" not in duplicate.headers
    assert "exists already" in panel and "Link Maria Pop" in panel
    assert 'value="Maria P."' in panel  # what was typed is kept
    assert len(admin.ok("GET", "contacts?q=maria")["items"]) == 1
    offered = {"contact_id": maria[0]["id"], "version": again["version"]}
    assert admin_web.htmx(f"/cards/{other['id']}/contacts", offered).status_code == 200
    assert card_json(admin, other)["contact_id"] == maria[0]["id"]


def test_a_stale_version_changes_nothing_and_keeps_what_was_typed(admin_web, admin, deal):
    someone = make_contact(admin, "Someone")
    old = card_json(admin, deal)["version"]
    admin.ok("PATCH", f"cards/{deal['id']}", {"title": "ACME deal (renamed)"})
    linked = admin_web.htmx(
        f"/cards/{deal['id']}/contacts", {"contact_id": someone["id"], "version": old}
    )
    assert linked.status_code == 412 and "Someone else changed this card" in linked.get_data(
        as_text=True
    )
    typed = {"name": "Typed Name", "email": "typed@example.com", "phone": "", "version": old}
    created = admin_web.htmx(f"/cards/{deal['id']}/contacts/new", typed)
    panel = created.get_data(as_text=True)
    assert created.status_code == 412 and 'value="Typed Name"' in panel
    assert 'value="typed@example.com"' in panel
    assert admin.ok("GET", "contacts?q=typed")["items"] == []
    assert card_json(admin, deal)["contact_id"] is None


def test_without_javascript_linking_and_removal_are_plain_forms(admin_web, admin, deal):
    ana = make_contact(admin, "Ana Ionescu")
    page = admin_web.get(f"/cards/{deal['id']}?contact_q=ana").get_data(as_text=True)
    assert f'action="/cards/{deal["id"]}/contacts"' in page and "Ana Ionescu" in page
    version = card_json(admin, deal)["version"]
    linked = admin_web.post(
        f"/cards/{deal['id']}/contacts", {"contact_id": ana["id"], "version": version}
    )
    assert linked.status_code == 302 and linked.headers["Location"].endswith(
        f"/cards/{deal['id']}#contacts"
    )
    assert "Ana Ionescu is linked" in admin_web.get(f"/cards/{deal['id']}").get_data(as_text=True)
    removed = admin_web.post(
        f"/cards/{deal['id']}/contacts/{ana['id']}/remove", {"version": version + 1}
    )
    assert removed.status_code == 302 and card_json(admin, deal)["contact_id"] is None
    stale = admin_web.post(
        f"/cards/{deal['id']}/contacts", {"contact_id": ana["id"], "version": version}
    )
    assert stale.status_code == 412 and "Someone else changed this card" in stale.get_data(
        as_text=True
    )


def test_the_contact_page_lists_the_card_it_was_linked_to_from_the_card_page(
    admin_web, member_web, admin, member, deal
):
    ana = make_contact(admin, "Ana Ionescu")
    before = admin_web.get(f"/contacts/{ana['id']}").get_data(as_text=True)
    assert "On no card yet" in before
    version = card_json(admin, deal)["version"]
    admin_web.htmx(f"/cards/{deal['id']}/contacts", {"contact_id": ana["id"], "version": version})
    page = admin_web.get(f"/contacts/{ana['id']}").get_data(as_text=True)
    assert f'/cards/{deal["id"]}"' in page and "ACME deal" in page
    # A member who may not see the card is told so, without the card.
    hidden = member_web.get(f"/contacts/{ana['id']}").get_data(as_text=True)
    assert "ACME deal" not in hidden and "On no card you may see" in hidden


def test_no_one_links_contacts_on_a_card_they_may_not_see(member_web, admin, deal):
    ana = make_contact(admin, "Ana Ionescu")
    path = f"/cards/{deal['id']}/contacts"
    assert member_web.htmx(path, {"contact_id": ana["id"], "version": 1}).status_code == 404
    assert member_web.get(path + "/search?q=ana").status_code == 404
    assert admin.ok("GET", f"cards/{deal['id']}")["contact_id"] is None


@pytest.mark.parametrize(
    "form",
    [
        {"contact_id": "abc"},
        {"contact_id": "99999999"},
        {"contact_id": str(2**70)},
        {},
        {"contact_id": "1", "version": "x"},
    ],
)
def test_bad_links_are_refused_clearly(admin_web, admin, deal, form):
    form.setdefault("version", str(card_json(admin, deal)["version"]))
    answer = admin_web.htmx(f"/cards/{deal['id']}/contacts", form)
    assert answer.status_code == 422
    assert card_json(admin, deal)["contact_id"] is None
