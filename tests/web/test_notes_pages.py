"""The card page's notes through Flask's test client: the composer (plain form and htmx), the
preview, the @ picker's list, a note's edit and delete forms, and who is told what."""

from __future__ import annotations

from html import unescape

import pytest


@pytest.fixture
def sales(admin, member):
    product = admin.product("sales", name="Sales")
    admin.grant(product, member)
    return product


def notes_of(api, card):
    return api.ok("GET", f"cards/{card['id']}/notes")["items"]


def test_the_card_page_has_a_composer_that_saves_a_note_without_javascript(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    page = admin_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    assert 'id="note-composer"' in page and 'name="body"' in page
    assert "notes.js" in page
    answer = admin_web.post(f"/cards/{card['id']}/notes", {"body": "Called **Ana**\r\nShe agrees"})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/cards/{card['id']}#notes")
    [saved] = notes_of(admin, card)
    assert saved["body"] == "Called **Ana**\nShe agrees"
    page = admin_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    assert "The note is saved." in page
    assert "<strong>Ana</strong>" in page  # the note shows, rendered
    assert f'id="note-{saved["id"]}"' in page


def test_saving_with_htmx_answers_an_empty_composer_and_fires_card_changed(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    answer = admin_web.htmx(f"/cards/{card['id']}/notes", {"body": "Offer sent"})
    assert answer.status_code == 200
    assert answer.headers["HX-Trigger"] == "card-changed"
    html = answer.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="card-box notes"')
    assert "Offer sent</textarea>" not in html  # the composer is empty again
    assert [note["body"] for note in notes_of(admin, card)] == ["Offer sent"]


def test_an_empty_note_is_refused_and_what_was_typed_is_kept(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    answer = admin_web.htmx(f"/cards/{card['id']}/notes", {"body": "   "})
    assert answer.status_code == 422
    assert "HX-Trigger" not in answer.headers
    assert "A note needs some text." in answer.get_data(as_text=True)
    assert notes_of(admin, card) == []
    plain = admin_web.post(f"/cards/{card['id']}/notes", {"body": ""})
    assert plain.status_code == 422  # the card page, the message beside the composer
    assert "A note needs some text." in plain.get_data(as_text=True)


def test_mentions_are_sent_and_the_author_is_told_who_was_not_notified(
    admin_web, admin, member, sales, new_user
):
    outsider = new_user("outsider@example.com")
    card = admin.card(sales, "ACME")
    form = {"body": "@Member @Outsider please look", "mentions": [member.user.id, outsider.user.id]}
    answer = admin_web.htmx(f"/cards/{card['id']}/notes", form)
    assert answer.status_code == 200
    html = unescape(answer.get_data(as_text=True))
    assert "Not notified, since they may not see this card: Outsider" in html
    assert "not a member of the card's product" in html
    [saved] = notes_of(admin, card)
    assert saved["mentions"] == [member.user.id]
    # Without JavaScript the same message comes on the next page.
    admin_web.post(f"/cards/{card['id']}/notes", {"body": "again", "mentions": outsider.user.id})
    page = unescape(admin_web.get(f"/cards/{card['id']}").get_data(as_text=True))
    assert "Not notified, since they may not see this card: Outsider" in page


def test_the_picker_lists_people_who_may_see_the_card(admin_web, admin, member, sales, new_user):
    new_user("outsider@example.com")
    card = admin.card(sales, "ACME")
    people = admin_web.get(f"/cards/{card['id']}/mentionable?q=mem").get_json()
    assert people == [{"id": member.user.id, "name": "Member", "email": "member@example.com"}]
    assert admin_web.get(f"/cards/{card['id']}/mentionable?q=out").get_json() == []


def test_the_preview_is_rendered_and_sanitised_by_the_server(admin_web):
    answer = admin_web.htmx("/notes/preview", {"body": "# Hi\n<script>alert(1)</script>"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "<h1>Hi</h1>" in html and "<script>" not in html and "&lt;script&gt;" in html
    assert "Nothing to preview" in admin_web.htmx("/notes/preview", {"body": ""}).get_data(
        as_text=True
    )


def test_the_author_edits_and_deletes_a_note_from_its_own_controls(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    written = admin.ok("POST", f"cards/{card['id']}/notes", {"body": "First"})
    edited = admin_web.htmx(
        f"/notes/{written['id']}/edit", {"body": "Second", "version": written["version"]}
    )
    assert edited.status_code == 200 and edited.headers["HX-Trigger"] == "card-changed"
    html = edited.get_data(as_text=True)
    assert html.lstrip().startswith(f'<article class="note" id="note-{written["id"]}"')
    assert "<p>Second</p>" in html and "edited" in html
    stale = admin_web.htmx(
        f"/notes/{written['id']}/edit", {"body": "Third", "version": written["version"]}
    )
    assert stale.status_code == 422
    assert "Someone changed this note" in stale.get_data(as_text=True)
    assert notes_of(admin, card)[0]["body"] == "Second"
    removed = admin_web.htmx(f"/notes/{written['id']}/delete", {"version": written["version"] + 1})
    assert removed.status_code == 200 and removed.headers["HX-Trigger"] == "card-changed"
    assert notes_of(admin, card) == []


def test_without_javascript_edit_and_delete_redirect_back(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    written = admin.ok("POST", f"cards/{card['id']}/notes", {"body": "First"})
    answer = admin_web.post(f"/notes/{written['id']}/edit", {"body": "Second"})
    assert answer.headers["Location"].endswith(f"/cards/{card['id']}#note-{written['id']}")
    assert notes_of(admin, card)[0]["body"] == "Second"
    answer = admin_web.post(f"/notes/{written['id']}/delete")
    assert answer.headers["Location"].endswith(f"/cards/{card['id']}#notes")
    assert notes_of(admin, card) == []


def test_others_see_a_note_without_its_controls_and_cannot_change_it(
    member_web, admin, member, sales
):
    card = admin.card(sales, "ACME")
    written = admin.ok("POST", f"cards/{card['id']}/notes", {"body": "The admin's note"})
    page = member_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    assert "The admin&#39;s note" in page or "The admin's note" in page
    assert f"/notes/{written['id']}/edit" not in page
    assert f"/notes/{written['id']}/delete" not in page
    assert member_web.post(f"/notes/{written['id']}/edit", {"body": "mine"}).status_code == 302
    assert member_web.htmx(f"/notes/{written['id']}/delete").status_code == 403
    assert notes_of(admin, card)[0]["body"] == "The admin's note"


def test_a_trashed_card_shows_no_composer(admin_web, admin, sales):
    card = admin.card(sales, "ACME")
    admin.delete(f"cards/{card['id']}")
    page = admin_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    assert 'id="note-composer"' not in page
    assert "restore it to write notes" in page
