"""Which language a person gets: their profile's, else their browser's, else the site's."""

from __future__ import annotations

from typing import Any

import pytest
from cardcrm.common.i18n_catalogues import (
    CATALOGUES,
    ROOT,
    missing,
    template_files,
    unmarked_template_text,
)
from cardcrm.core.app import create_app

from tests.conftest import get_db_from


def profile_page(web: Any, **headers: str) -> str:
    return web.get("/profile", headers=headers).get_data(as_text=True)


def test_the_browsers_accept_language_picks_romanian(admin_web: Any) -> None:
    page = profile_page(admin_web, **{"Accept-Language": "ro-RO,ro;q=0.9,en;q=0.5"})
    assert "Limbă" in page
    assert '<html lang="ro"' in page


def test_without_a_choice_the_site_speaks_english(admin_web: Any) -> None:
    page = profile_page(admin_web)
    assert ">Language<" in page
    assert "Limbă" not in page


def test_the_profiles_language_wins_over_the_browsers(admin: Any, admin_web: Any) -> None:
    admin.ok("PATCH", "me", {"language": "ro"})
    assert "Limbă" in profile_page(admin_web, **{"Accept-Language": "en"})
    admin.ok("PATCH", "me", {"language": "en"})
    assert "Limbă" not in profile_page(admin_web, **{"Accept-Language": "ro"})
    admin.ok("PATCH", "me", {"language": None})
    assert "Limbă" in profile_page(admin_web, **{"Accept-Language": "ro"})


def test_the_profile_page_saves_the_language(admin: Any, admin_web: Any) -> None:
    form = {"name": "Admin", "timezone": "Europe/Bucharest", "language": "ro"}
    response = admin_web.post("/profile", form)
    assert response.status_code == 302
    assert admin.ok("GET", "me")["language"] == "ro"
    assert "Limbă" in profile_page(admin_web)


def test_an_unknown_language_is_refused_and_changes_nothing(admin: Any) -> None:
    response = admin.request("PATCH", "me", {"language": "xx", "name": "Someone Else"})
    assert response.status_code == 422
    assert "language" in response.get_json()["errors"]
    me = admin.ok("GET", "me")
    assert me["language"] is None and me["name"] != "Someone Else"


@pytest.mark.parametrize("default", ["ro"])
def test_the_sites_default_language_applies_when_nobody_chose(
    app_config: dict, admin: Any, web_client: Any, default: str
) -> None:
    site = create_app({**app_config, "DEFAULT_LANGUAGE": default})
    try:
        web = web_client(site).log_in(admin.user.email)
        assert "Limbă" in profile_page(web)
        assert "Limbă" not in profile_page(web, **{"Accept-Language": "en-GB"})
    finally:
        get_db_from(site).dispose()


def test_every_marked_string_has_a_translation_in_every_catalogue() -> None:
    """`make translations` adds new strings to the .po files; each needs its translation."""
    gaps = {str(path): lacking[:20] for path, lacking in missing().items()}
    assert not gaps, f"untranslated strings (first 20 per catalogue): {gaps}"


def test_the_page_scripts_get_their_words_in_the_readers_language(admin_web: Any) -> None:
    romanian = profile_page(admin_web, **{"Accept-Language": "ro"})
    assert '<script type="application/json" id="cardcrm-messages">' in romanian
    assert '"Copied.": "Copiat."' in romanian
    assert '"Copied."' not in profile_page(admin_web)  # English pages carry no translations


def test_romanian_is_written_with_comma_below_not_cedilla() -> None:
    """ș and ț (U+0219, U+021B) are Romanian; ş and ţ (cedilla) are Turkish look-alikes."""
    cedillas = {"\u015f", "\u0163", "\u015e", "\u0162"}
    for catalogue in CATALOGUES:
        for path in (ROOT / catalogue).glob("ro/LC_MESSAGES/messages.po"):
            text = path.read_text(encoding="utf-8")
            wrong = sorted({line for line in text.splitlines() if cedillas & set(line)})
            assert not wrong, f"{path}: {wrong[:5]}"


def test_every_word_a_template_shows_is_marked_for_translation() -> None:
    """Text, read attributes (title, placeholder, aria-label...) and fallback literals."""
    unmarked = {
        str(path.relative_to(ROOT)): found[:5]
        for path in template_files()
        if (found := unmarked_template_text(path.read_text(encoding="utf-8")))
    }
    assert not unmarked, f"template words not marked with _(): {unmarked}"


def test_the_checker_finds_unmarked_words() -> None:
    source = (
        '<p title="Hover words">Hello {{ _("marked") }}</p>'
        "{{ user.name or 'nobody' }}{{ _('fine') }}<code>raw_code</code>"
    )
    found = [text for _, text in unmarked_template_text(source)]
    assert sorted(found) == sorted(["'nobody'", "Hover words", "Hello {…}"])
