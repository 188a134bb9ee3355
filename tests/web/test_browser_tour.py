"""A tour of every main page in a real browser (Chromium through Playwright, against ``cardcrm
up`` with its demo data) at desktop and phone width: no page scrolls sideways on a 390 px
phone, the header stays at most 120 px high there, and every section of the main navigation
and the account's links can be seen and reached. Each page's screenshot lands in
test-artifacts/tour-<page>-<desktop|phone>.png for a person to look at."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.slow

NAV = ["Today", "Products", "Contacts", "Wall", "Reports", "Help"]


def tour_paths(tab: Any) -> dict[str, str]:
    """The pages to visit, with the demo's first product and its first card."""
    tab.goto("/products")
    product = tab.locator(".row").first.get_by_role("link").first.get_attribute("href")
    product_id = re.search(r"/products/(\d+)", product or "").group(1)  # type: ignore[union-attr]
    tab.goto(f"/products/{product_id}")
    card = tab.locator(".card-table .card-title a").first.get_attribute("href")
    return {
        "today": "/",
        "products": "/products",
        "card-list": f"/products/{product_id}",
        "board": f"/products/{product_id}/board",
        "card": str(card),
        "contacts": "/contacts",
        "wall": "/wall",
        "reports": "/reports",
        "search": "/search?q=Globex",
        "trash": f"/products/{product_id}/trash",
        "users": "/users",
        "profile": "/profile",
        "notification-settings": "/settings/notifications",
        "calendar": "/settings/calendar",
        "product-settings": f"/products/{product_id}/settings",
    }


def out_of_reach(tab: Any, width: int) -> list[str]:
    """The header's links (and the log-out button) not wholly visible inside the viewport."""
    missing = []
    links = tab.locator("header.top nav a, header.top .account a, header.top .account button")
    for at in range(links.count()):
        link = links.nth(at)
        box = link.bounding_box()
        name = link.get_attribute("title") or link.inner_text()
        if not link.is_visible() or box is None or box["x"] < 0 or box["x"] + box["width"] > width:
            missing.append(name)
    return missing


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_every_page_fits_the_screen_and_reaches_every_section(
    new_tab: Any, artifact: Any, width: int, height: int, name: str
) -> None:
    tab = new_tab(width, height)
    problems: list[str] = []
    for page_name, path in tour_paths(tab).items():
        response = tab.goto(path)
        assert response is not None and response.status == 200, (page_name, path)
        tab.screenshot(path=artifact(f"tour-{page_name}-{name}.png"), full_page=True)
        nav = tab.get_by_role("navigation", name="Main")
        names = [nav.get_by_role("link", name=section, exact=True) for section in NAV]
        if any(link.count() != 1 for link in names):
            problems.append(f"{page_name}: the main navigation lacks a section")
        if unreachable := out_of_reach(tab, width):
            problems.append(f"{page_name}: out of reach: {unreachable}")
        scroll_width = tab.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            problems.append(f"{page_name}: {scroll_width} px wide")
        if page_name == "board":
            offers = tab.locator(".column:has(.board-card) .empty-column")
            if any(offers.nth(at).is_visible() for at in range(offers.count())):
                problems.append("board: a column with cards still offers to add the first one")
        header = tab.locator("header.top").bounding_box()
        if width <= 390 and (header is None or header["height"] > 120):
            problems.append(f"{page_name}: header {header and header['height']} px high")
    assert not problems, problems
