"""Global search in a real browser: "/" focuses the header's box, suggestions appear while
typing, arrow keys and Enter open one; at desktop and phone width."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_slash_focuses_search_and_the_keyboard_opens_a_suggestion(
    new_tab, artifact, width, height, name
):
    tab = new_tab(width, height)
    tab.goto("/products")
    header = tab.locator("header.top").bounding_box()
    assert header is not None and header["height"] <= 120  # no longer wrapped to 142 px on a phone
    tab.keyboard.press("/")
    box = tab.locator("#global-search")
    assert box.evaluate("element => element === document.activeElement")
    box.type("glob")
    suggestions = tab.locator("#global-search-results")
    suggestions.get_by_text("Globex renewal").wait_for()
    assert suggestions.get_by_text("Invoice 2026-002 (Globex)").is_visible()  # a field or title
    tab.screenshot(path=artifact(f"search-{name}.png"), full_page=False)
    options = suggestions.locator("[role=option]")
    titles = [
        options.nth(at).locator(".search-title").inner_text() for at in range(options.count())
    ]
    tab.keyboard.press("ArrowDown")
    assert options.nth(0).get_attribute("aria-selected") == "true"
    if len(titles) > 1:
        tab.keyboard.press("ArrowDown")
        tab.keyboard.press("ArrowUp")
    assert options.nth(0).get_attribute("aria-selected") == "true"
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/cards/*")
    assert tab.locator("h1").inner_text() == titles[0]
    assert tab.evaluate("document.documentElement.scrollWidth") <= width


def test_escape_closes_the_suggestions_and_enter_without_a_choice_shows_all_results(page):
    page.keyboard.press("/")
    page.keyboard.type("acme")
    results = page.locator("#global-search-results")
    results.get_by_text("ACME Corp: 20 licences").wait_for()
    page.keyboard.press("Escape")
    assert results.is_hidden()
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=acme")
    assert page.get_by_role("heading", name="Cards").is_visible()
    assert page.get_by_text("ACME Corp: 20 licences").is_visible()
