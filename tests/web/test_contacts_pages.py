"""Contacts in the web UI: search, create (duplicates warned), edit (stale saves), cards by
product (only those the user may see), merge and delete (for admins and the creator), and CSV
export and import."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest


class FormFields(HTMLParser):
    """The form fields of a page without a <label> (by ``for`` or wrapping them)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict] = []
        self.labelled: set[str] = set()
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            self.labelled.add(attributes.get("for") or "")
        elif tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.fields.append({**attributes, "wrapped": self.open_labels > 0})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1

    def unlabelled(self) -> list[dict]:
        return [f for f in self.fields if not f["wrapped"] and f.get("id") not in self.labelled]


def make_contact(api, name, **body):
    return api.ok("POST", "contacts", {"name": name, **body}, status=201)


@pytest.fixture
def stefan(admin):
    return make_contact(admin, "Ștefan Popescu", emails=["stefan@example.com"])


def test_search_ignores_accents(admin_web, stefan, admin):
    make_contact(admin, "Ana Ionescu")
    page = admin_web.get("/contacts?q=stefan").get_data(as_text=True)
    assert "Ștefan Popescu" in page and f'/contacts/{stefan["id"]}"' in page
    assert "Ana Ionescu" not in page
    companies = admin_web.get("/contacts?kind=company&q=stefan").get_data(as_text=True)
    assert "Ștefan Popescu" not in companies


def test_create_then_duplicate_warning_then_create_anyway(admin_web, admin):
    form = {"kind": "person", "name": "Maria", "emails": "maria@example.com", "phones": ""}
    created = admin_web.post("/contacts", form)
    assert created.status_code == 302
    first_id = int(created.headers["Location"].rsplit("/", 1)[1])

    again = admin_web.post("/contacts", {**form, "name": "Maria B"})
    page = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "a contact with this e-mail/phone exists" in page.lower()
    assert f'/contacts/{first_id}"' in page and 'name="allow_duplicate"' in page
    assert 'value="Maria B"' in page  # what was typed is kept

    anyway = admin_web.post("/contacts", {**form, "name": "Maria B", "allow_duplicate": "1"})
    assert anyway.status_code == 302
    names = [item["name"] for item in admin.ok("GET", "contacts?q=maria")["items"]]
    assert sorted(names) == ["Maria", "Maria B"]


def test_bad_input_is_a_message_not_a_500(admin_web, stefan):
    bad = admin_web.post("/contacts", {"name": "X", "emails": "not an e-mail"})
    assert bad.status_code == 422 and "field-error" in bad.get_data(as_text=True)
    edit = admin_web.post(f"/contacts/{stefan['id']}", {"name": "", "version": "x"})
    assert edit.status_code == 422
    merge = admin_web.post(f"/contacts/{stefan['id']}/merge", {"other_id": "abc"})
    assert merge.status_code == 422
    assert admin_web.get("/contacts/999999").status_code == 404


def test_edit_with_a_stale_version_keeps_what_was_typed(admin_web, admin, stefan):
    path = f"/contacts/{stefan['id']}"
    admin.ok("PATCH", f"contacts/{stefan['id']}", {"position": "CEO"})
    stale = admin_web.post(
        path,
        {"name": "Ștefan P. <b>", "emails": "s@example.com", "position": "CTO", "version": "1"},
    )
    page = stale.get_data(as_text=True)
    assert stale.status_code == 412
    assert "Someone else changed this contact" in page
    assert 'value="Ștefan P. &lt;b&gt;"' in page and 'value="CTO"' in page
    assert "Now saved: <strong>CEO</strong>" in page
    assert admin.ok("GET", f"contacts/{stefan['id']}")["name"] == "Ștefan Popescu"

    saved = admin_web.post(path, {"name": "Ștefan P.", "emails": "s@example.com", "version": "2"})
    assert saved.status_code == 302
    assert admin.ok("GET", f"contacts/{stefan['id']}")["emails"] == ["s@example.com"]


def test_contact_page_groups_cards_and_hides_unseen_ones(
    admin, member, member_web, admin_web, stefan
):
    shared = admin.product("sales", name="Shared sales")
    secret = admin.product("sales", name="Secret sales")
    admin.grant(shared, member)
    seen = admin.card(shared, "Seen deal", contact_id=stefan["id"])
    other = make_contact(admin, "Other")
    linked = admin.card(shared, "Linked deal", contact_id=other["id"], contact_ids=[stefan["id"]])
    hidden = admin.card(secret, "Hidden deal", contact_id=stefan["id"])

    page = member_web.get(f"/contacts/{stefan['id']}").get_data(as_text=True)
    assert "Shared sales" in page and f'/cards/{seen["id"]}"' in page
    assert f'/cards/{linked["id"]}"' in page
    assert "Hidden deal" not in page and "Secret sales" not in page

    full = admin_web.get(f"/contacts/{stefan['id']}").get_data(as_text=True)
    assert "Secret sales" in full and f'/cards/{hidden["id"]}"' in full
    assert full.index("Shared sales") < full.index("Linked deal")

    card_page = admin_web.get(f"/cards/{linked['id']}").get_data(as_text=True)
    assert f'/contacts/{other["id"]}"' in card_page and f'/contacts/{stefan["id"]}"' in card_page


def test_merge_moves_the_cards(admin, admin_web, stefan):
    product = admin.product("sales", name="Sales")
    twin = make_contact(admin, "Stefan Popescu", phones=["+40 721 000 111"])
    card = admin.card(product, "Twin deal", contact_id=twin["id"])

    found = admin_web.get(f"/contacts/{stefan['id']}?merge_q=popescu").get_data(as_text=True)
    assert "Merge into this one" in found and f'value="{twin["id"]}"' in found

    merged = admin_web.post(f"/contacts/{stefan['id']}/merge", {"other_id": str(twin["id"])})
    assert merged.status_code == 302
    assert admin.ok("GET", f"cards/{card['id']}")["contact_id"] == stefan["id"]
    assert admin.get(f"contacts/{twin['id']}").status_code == 404
    page = admin_web.get(f"/contacts/{stefan['id']}").get_data(as_text=True)
    assert "Twin deal" in page and "merged another contact" in page

    itself = admin_web.post(f"/contacts/{stefan['id']}/merge", {"other_id": str(stefan["id"])})
    assert itself.status_code == 422 and "cannot be merged with itself" in itself.get_data(
        as_text=True
    )


def test_merge_and_delete_are_offered_only_to_admins_and_the_contacts_creator(
    admin, admin_web, member, member_web, stefan
):
    own = make_contact(member, "Ana Pop")
    merge_form, delete_form = "/merge", "/delete"

    theirs = member_web.get(f"/contacts/{stefan['id']}").get_data(as_text=True)
    assert f"/contacts/{stefan['id']}{merge_form}" not in theirs
    assert f"/contacts/{stefan['id']}{delete_form}" not in theirs
    assert "Only an admin or the person who created this contact" in theirs
    assert 'name="version"' in theirs  # editing stays open to everyone

    for web, contact in ((member_web, own), (admin_web, stefan)):
        page = web.get(f"/contacts/{contact['id']}").get_data(as_text=True)
        assert f"/contacts/{contact['id']}{merge_form}" in page
        assert f"/contacts/{contact['id']}{delete_form}" in page


def test_a_user_who_may_not_gets_403_and_nothing_changes(admin, member_web, stefan):
    twin = make_contact(admin, "Stefan P.")
    merge = member_web.post(f"/contacts/{stefan['id']}/merge", {"other_id": str(twin["id"])})
    delete = member_web.post(f"/contacts/{stefan['id']}/delete", {})
    assert (merge.status_code, delete.status_code) == (403, 403)
    assert admin.get(f"contacts/{twin['id']}").status_code == 200
    assert admin.get(f"contacts/{stefan['id']}").status_code == 200


def test_merge_candidates_are_only_contacts_the_user_may_merge(admin, member, member_web):
    own = make_contact(member, "Ana Pop")
    own_twin = make_contact(member, "Ana Popa")
    others = make_contact(admin, "Ana Popescu")

    page = member_web.get(f"/contacts/{own['id']}?merge_q=ana").get_data(as_text=True)
    assert f'value="{own_twin["id"]}"' in page
    assert f'value="{others["id"]}"' not in page


def test_the_creator_deletes_a_contact_and_its_visible_cards_lose_it(admin, member, member_web):
    product = admin.product("sales", name="Sales")
    admin.grant(product, member)
    own = make_contact(member, "Ana Pop")
    card = member.card(product, "Deal", contact_id=own["id"])

    deleted = member_web.post(f"/contacts/{own['id']}/delete", {"version": "1"})
    assert deleted.status_code == 302
    assert member.get(f"contacts/{own['id']}").status_code == 404
    assert member.ok("GET", f"cards/{card['id']}")["contact_id"] is None


def test_a_contact_on_cards_out_of_sight_is_left_to_an_admin(admin, member, member_web):
    secret = admin.product("sales", name="Secret sales")
    own = make_contact(member, "Ana Pop")
    hidden = admin.card(secret, "Hidden deal", contact_id=own["id"])

    page = member_web.get(f"/contacts/{own['id']}").get_data(as_text=True)
    assert "only an admin can delete it" in page
    assert f"/contacts/{own['id']}/delete" not in page

    refused = member_web.post(f"/contacts/{own['id']}/delete", {})
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "linked to cards you cannot see" in text and "Hidden deal" not in text
    assert admin.ok("GET", f"cards/{hidden['id']}")["contact_id"] == own["id"]


def test_csv_exports_download_text_csv(admin, admin_web, member_web, stefan):
    product = admin.product("sales", name="Sales")
    admin.card(product, "Alpha deal")
    admin.card(product, "Beta deal")
    show = admin_web.get(f"/products/{product['id']}?q=alpha").get_data(as_text=True)
    assert f"/products/{product['id']}/export.csv?q=alpha" in show
    assert f"/products/{product['id']}/import" in show

    cards = admin_web.get(f"/products/{product['id']}/export.csv?q=alpha")
    assert cards.status_code == 200 and cards.mimetype == "text/csv"
    text = cards.get_data(as_text=True)
    assert "Alpha deal" in text and "Beta deal" not in text
    assert member_web.get(f"/products/{product['id']}/export.csv").status_code == 404

    bad_filter = admin_web.get(f"/products/{product['id']}/export.csv?status_id=abc")
    assert bad_filter.status_code == 422 and bad_filter.mimetype == "text/html"

    contacts = admin_web.get("/contacts/export.csv")
    assert (
        contacts.mimetype == "text/csv" and "attachment" in contacts.headers["Content-Disposition"]
    )
    assert "Ștefan Popescu" in contacts.get_data(as_text=True)


def upload(web, path, content, **form):
    data = {"file": (io.BytesIO(content.encode()), "file.csv"), **form}
    return web.post(path, data, content_type="multipart/form-data")


def test_contact_import_shows_bad_lines_and_writes_nothing(admin, admin_web):
    bad = upload(
        admin_web,
        "/contacts/import",
        "name,emails\nGood One,good@example.com\nBad One,not-an-email\n",
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Line 3:" in page and "Nothing was written" in page
    assert admin.ok("GET", "contacts?q=one")["items"] == []

    dry = upload(admin_web, "/contacts/import", "name\nGood One\nGood Two\n", dry_run="1")
    assert dry.status_code == 200 and "would create 2" in dry.get_data(as_text=True)
    assert admin.ok("GET", "contacts?q=good")["items"] == []

    done = upload(admin_web, "/contacts/import", "name\nGood One\nGood Two\n")
    assert done.status_code == 200 and "2 created" in done.get_data(as_text=True)
    assert len(admin.ok("GET", "contacts?q=good")["items"]) == 2

    garbage = upload(admin_web, "/contacts/import", "")
    assert garbage.status_code == 422
    binary = admin_web.post(
        "/contacts/import",
        {"file": (io.BytesIO(b"\xff\xfe\x00name\n\x80\x81"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert binary.status_code == 422, binary.get_data(as_text=True)

    empty = admin_web.post("/contacts/import", {})
    assert empty.status_code == 422 and "Choose a CSV file" in empty.get_data(as_text=True)


def test_card_import_shows_bad_lines_dry_run_and_import(admin, member, member_web):
    product = admin.product("sales", name="Sales")
    admin.grant(product, member)
    path = f"/products/{product['id']}/import"
    bad = upload(member_web, path, "title,status\nFine,\nBroken,No such status\n")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Line 3:" in page
    assert admin.ok("GET", f"products/{product['id']}/cards")["items"] == []

    dry = upload(member_web, path, "title\nFirst\nSecond\n", dry_run="1")
    assert dry.status_code == 200 and "would create 2" in dry.get_data(as_text=True)
    assert admin.ok("GET", f"products/{product['id']}/cards")["items"] == []

    done = upload(member_web, path, "title\nFirst\nSecond\n")
    assert done.status_code == 200 and "2 created" in done.get_data(as_text=True)
    assert len(admin.ok("GET", f"products/{product['id']}/cards")["items"]) == 2


def test_posts_without_csrf_are_refused(admin, admin_web, stefan):
    product = admin.product("sales", name="Sales")
    posts = [
        ("/contacts", {"name": "Nope"}),
        (f"/contacts/{stefan['id']}", {"name": "Nope", "version": "1"}),
        (f"/contacts/{stefan['id']}/merge", {"other_id": "1"}),
        (f"/contacts/{stefan['id']}/delete", {}),
        ("/contacts/import", {}),
        (f"/products/{product['id']}/import", {}),
    ]
    for path, data in posts:
        assert admin_web.post(path, data, csrf=False).status_code == 403, path
    assert admin.ok("GET", "contacts?q=nope")["items"] == []


@pytest.mark.parametrize("who", ["admin_web", "member_web"])
def test_every_new_page_renders(request, who, admin, member, stefan):
    web = request.getfixturevalue(who)
    product = admin.product("sales", name="Sales")
    admin.grant(product, member)
    card = admin.card(product, "Deal", contact_id=stefan["id"])
    for path in (
        "/contacts",
        "/contacts?q=st&kind=person",
        f"/contacts/{stefan['id']}",
        f"/contacts/{stefan['id']}?merge_q=x",
        "/contacts/import",
        "/contacts/export.csv",
        f"/products/{product['id']}",
        f"/products/{product['id']}/import",
        f"/products/{product['id']}/export.csv",
        f"/cards/{card['id']}",
    ):
        response = web.get(path)
        assert response.status_code == 200, path
        if response.mimetype == "text/html":
            parser = FormFields()
            parser.feed(response.get_data(as_text=True))
            assert parser.unlabelled() == [], path
    nav = web.get("/contacts").get_data(as_text=True)
    assert re.search(r'href="/contacts" aria-current="page">.*?<span>Contacts</span></a>', nav)
