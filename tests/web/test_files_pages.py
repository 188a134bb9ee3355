"""The card page's files panel through Flask's test client: upload with a plain form (no
JavaScript) and as the panel's script sends it, the list, downloads under the session, removal,
and refusals shown in the panel."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from cardcrm.core.web.files import human_size


@pytest.fixture
def card(admin: Any, member: Any) -> dict:
    product = admin.product("sales", name="Sales")
    admin.grant(product, member)
    return admin.card(product, "ACME deal", owner_id=admin.user.id)


def upload(web: Any, card: dict, content: bytes, name: str, *, htmx: bool = False) -> Any:
    data = {"file": (io.BytesIO(content), name)}
    path = f"/cards/{card['id']}/files"
    if htmx:
        headers = {"HX-Request": "true", "X-CSRF-Token": web.token or web._fetch_token()}
        return web.client.post(path, data=data, headers=headers)
    return web.post(path, data)


def panel(page: str) -> str:
    start = page.index('id="files"')
    return page[start : page.index("</section>", start)]


def test_the_panel_offers_an_upload_form_that_works_without_javascript(admin_web, card):
    page = admin_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    files = panel(page)
    assert 'enctype="multipart/form-data"' in files
    assert 'type="file" name="file"' in files
    assert "No file yet." in files
    assert "up to 25 MB each" in files
    assert "files.js" in files

    response = upload(admin_web, card, b"%PDF-1.4 offer" * 100, "Ofertă ACME.pdf")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cards/{card['id']}#files")
    page = admin_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    assert "“Ofertă ACME.pdf” is added to the card." in page
    files = panel(page)
    assert "Ofertă ACME.pdf" in files and "1.4 KB" in files and "Admin" in files
    [link] = re.findall(r'href="(/files/\d+/download)"', files)
    download = admin_web.get(link)
    assert download.status_code == 200
    assert download.data == b"%PDF-1.4 offer" * 100
    assert download.headers["Content-Disposition"].startswith(
        'attachment; filename="Oferta ACME.pdf"'
    )
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_an_upload_from_the_script_answers_the_panel_and_says_the_card_changed(admin_web, card):
    response = upload(admin_web, card, b"minutes", "minutes.txt", htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "card-changed"
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("{#") is False and 'id="files"' in html
    assert "minutes.txt" in html and "7 bytes" in html


def test_refusals_are_shown_in_the_panel(app, admin_web, card):
    app.config["MAX_UPLOAD_BYTES"] = 1024
    too_large = upload(admin_web, card, b"x" * 2048, "big.bin", htmx=True)
    assert too_large.status_code == 413
    html = too_large.get_data(as_text=True)
    assert 'id="files"' in html and "over the upload limit of 1,024 bytes" in html
    empty = upload(admin_web, card, b"", "empty.txt", htmx=True)
    assert empty.status_code == 422 and "The file is empty." in empty.get_data(as_text=True)

    plain = upload(admin_web, card, b"", "empty.txt")  # no JavaScript: back to the page
    assert plain.status_code == 302
    page = admin_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    assert "The file is empty." in page and "No file yet." in page


def test_removing_a_file_with_and_without_the_script(admin_web, card):
    upload(admin_web, card, b"one", "one.txt")
    upload(admin_web, card, b"two", "two.txt")
    page = admin_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    forms = re.findall(r'action="(/files/\d+/delete)"', page)
    assert len(forms) == 2 and 'data-confirm="Remove “two.txt” from the card?"' in page
    response = admin_web.post(forms[0])
    assert response.status_code == 302
    token = admin_web.token
    answer = admin_web.client.post(forms[1], headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert answer.status_code == 200 and answer.headers["HX-Trigger"] == "card-changed"
    assert "No file yet." in answer.get_data(as_text=True)


def test_others_see_the_files_but_remove_only_what_they_may(
    admin_web, member_web, card, new_user, app
):
    upload(admin_web, card, b"the admin's", "admins.txt")
    upload(member_web, card, b"the member's", "members.txt")
    files = panel(member_web.get(f"/cards/{card['id']}").get_data(as_text=True))
    assert "admins.txt" in files and "members.txt" in files
    assert len(re.findall(r'action="/files/\d+/delete"', files)) == 1  # only their own
    admins_file = re.search(r'href="/files/(\d+)/download"[^>]*>admins.txt', files).group(1)
    refused = member_web.post(f"/files/{admins_file}/delete")
    assert refused.status_code == 302
    page = member_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    assert "Only the user who uploaded the file" in page and "admins.txt" in panel(page)

    from tests.web.conftest import WebClient

    outsider = new_user("outsider@example.com")
    stranger = WebClient(app.test_client()).log_in(outsider.user.email)
    assert stranger.get(f"/files/{admins_file}/download").status_code == 404
    assert upload(stranger, card, b"planted", "x.txt").status_code == 404


def test_a_trashed_card_shows_its_files_without_upload_or_removal(admin_web, admin, card):
    upload(admin_web, card, b"kept", "kept.txt")
    assert admin.delete(f"cards/{card['id']}").status_code == 204
    files = panel(admin_web.get(f"/cards/{card['id']}").get_data(as_text=True))
    assert "kept.txt" in files
    assert 'type="file"' not in files and "/delete" not in files
    [link] = re.findall(r'href="(/files/\d+/download)"', files)
    assert admin_web.get(link).data == b"kept"
    refused = upload(admin_web, card, b"more", "more.txt", htmx=True)
    assert refused.status_code == 409 and "restore it" in refused.get_data(as_text=True)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1000, "1,000 bytes"),
        (1536, "1.5 KB"),
        (1024**2, "1 MB"),
        (25 * 1024**2, "25 MB"),
        (int(2.25 * 1024**3), "2.2 GB"),
    ],
)
def test_sizes_are_shown_in_human_units(size, shown):
    assert human_size(size) == shown
