"""cardcrm in Romanian, in a real browser (Chromium, Playwright) against ``cardcrm up`` with
its demo data: chosen by the browser (``Accept-Language: ro``) and by the profile, with
Romanian dates and money on the Today view, a card and the board, at 1280×800 and 390×844.

The expected words are read from the compiled Romanian catalogue, so the tests hold whatever
the wording, and fail when a word is left in English. Screenshots: test-artifacts/ro-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations
from cardcrm.common.i18n import compile_catalogues
from cardcrm.core.web.numbers import format_money

from .conftest import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = pytest.mark.slow

CORE_CATALOGUES = Path(__file__).resolve().parents[2] / "services" / "core" / "translations"
SIZES = [(1280, 800, "desktop"), (390, 844, "phone")]


@pytest.fixture(scope="module")
def ro() -> Translations:
    compile_catalogues([CORE_CATALOGUES])
    return Translations.load(str(CORE_CATALOGUES), ["ro"])


def romanian(ro: Translations, english: str) -> str:
    word = ro.gettext(english)
    assert word != english, f"{english!r} has no Romanian translation"
    return word


def log_in(tab: Any) -> None:
    """Log in by the fields' names: their labels are in the page's language."""
    tab.goto("/login")
    tab.locator("input[name=email]").fill(DEMO_EMAIL)
    tab.locator("input[name=password]").fill(DEMO_PASSWORD)
    tab.locator("form button[type=submit]").click()
    tab.wait_for_url("**/")


@pytest.fixture(params=SIZES, ids=[size[2] for size in SIZES])
def tab(request: pytest.FixtureRequest, browser: Any, live_server: str) -> Iterator[Any]:
    """A logged-in tab of a browser set to Romanian (it sends ``Accept-Language: ro-RO``)."""
    width, height, name = request.param
    context = browser.new_context(
        viewport={"width": width, "height": height},
        base_url=live_server,
        locale="ro-RO",
        timezone_id="Europe/Bucharest",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.size_name = name
    log_in(page)
    yield page
    context.close()


def nav_texts(tab: Any) -> list[str]:
    return [text.strip() for text in tab.locator("nav.main-nav a").all_text_contents()]


def test_today_in_romanian_from_the_browsers_language(tab, ro, artifact):
    tab.goto("/")
    assert tab.locator("html").get_attribute("lang") == "ro"
    assert romanian(ro, "Today") in nav_texts(tab)
    assert "Today" not in nav_texts(tab)
    totals = tab.locator(".totals").text_content()
    for word in ("Due", "Overdue", "Closed", "Postponed"):
        assert romanian(ro, word).lower() in totals.lower()
        assert word not in totals
    # Dates in Romanian: the days' and months' names come from CLDR's Romanian data.
    heading = tab.locator("#today-title").text_content()
    assert any(month in heading.lower() for month in ROMANIAN_MONTHS), heading
    tab.screenshot(path=artifact(f"ro-today-{tab.size_name}.png"), full_page=True)


def test_a_card_and_the_board_in_romanian_with_romanian_money(tab, ro, artifact):
    tab.goto("/products")
    tab.locator(".row", has_text="Invoices").get_by_role(
        "link", name=romanian(ro, "Board")
    ).first.click()
    tab.locator("#board").wait_for()
    board = tab.locator("#board").text_content()
    # €1,200.00 in English: in Romanian a dot groups thousands and the currency follows.
    assert format_money(1200, "EUR", locale="ro") in board
    assert "1,200" not in board
    tab.screenshot(path=artifact(f"ro-board-{tab.size_name}.png"), full_page=False)

    tab.locator(".board-card", has_text="Invoice 2026-002 (Globex)").locator("a").first.click()
    tab.wait_for_url("**/cards/*")
    page = tab.locator("main").text_content()
    assert romanian(ro, "Notes") in page and romanian(ro, "Timeline") in page
    assert any(month in page.lower() for month in ROMANIAN_MONTHS)
    tab.screenshot(path=artifact(f"ro-card-{tab.size_name}.png"), full_page=True)


def test_the_profiles_language_wins_over_an_english_browser(browser, live_server, ro, artifact):
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, base_url=live_server, locale="en-US"
    )
    tab = context.new_page()
    try:
        log_in(tab)
        tab.goto("/")
        assert "Today" in nav_texts(tab)
        tab.goto("/profile")
        tab.locator("select[name=language]").select_option("ro")
        tab.locator("form.stacked button[type=submit]").first.click()
        tab.wait_for_url("**/profile")
        tab.goto("/")
        assert tab.locator("html").get_attribute("lang") == "ro"
        assert romanian(ro, "Today") in nav_texts(tab)
        tab.screenshot(path=artifact("ro-profile-today-desktop.png"), full_page=False)
    finally:
        tab.goto("/profile")
        tab.locator("select[name=language]").select_option("")  # back to the browser's choice
        tab.locator("form.stacked button[type=submit]").first.click()
        tab.wait_for_url("**/profile")
        tab.goto("/")
        english = "Today" in nav_texts(tab)
        context.close()
    assert english


ROMANIAN_MONTHS = (
    "ian.",
    "feb.",
    "mar.",
    "apr.",
    "mai",
    "iun.",
    "iul.",
    "aug.",
    "sept.",
    "oct.",
    "nov.",
    "dec.",
    "ianuarie",
    "februarie",
    "martie",
    "aprilie",
    "iunie",
    "iulie",
    "august",
    "septembrie",
    "octombrie",
    "noiembrie",
    "decembrie",
)
