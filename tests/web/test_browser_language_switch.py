"""The header's language switch in a real browser: reached with the keyboard, it turns the page
into Romanian and back, staying on the same page; it fits the header at phone width."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_the_keyboard_switches_the_language_on_the_same_page(
    new_tab, artifact, width, height, name
):
    tab = new_tab(width, height)
    tab.goto("/reports?period=last_month")
    switch = tab.get_by_role("button", name="Română")
    box = switch.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width  # inside the screen
    header = tab.locator("header.top").bounding_box()
    assert header is not None and header["height"] <= 120  # the header did not wrap
    tab.screenshot(path=artifact(f"language-switch-en-{name}.png"), full_page=False)

    switch.focus()
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/reports?period=last_month")
    tab.get_by_role("heading", name="Rapoarte", level=1).wait_for()
    assert tab.locator("html").get_attribute("lang") == "ro"
    assert tab.get_by_role("link", name="Produse").is_visible()
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    tab.screenshot(path=artifact(f"language-switch-ro-{name}.png"), full_page=False)

    back = tab.get_by_role("button", name="English")
    back.focus()
    tab.keyboard.press("Enter")
    tab.get_by_role("heading", name="Reports", level=1).wait_for()
    assert tab.locator("html").get_attribute("lang") == "en"
    assert tab.url.endswith("/reports?period=last_month")
