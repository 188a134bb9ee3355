"""The board and the card list in a real browser (Chromium through Playwright, against
``cardcrm up`` with its demo data): dragging cards between columns, a plugin's veto shown on
the dropped card, the page's width, and the list sorted by a column. Screenshots of both pages
at desktop and phone sizes land in test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .test_browser import api, card_id

pytestmark = pytest.mark.slow


def open_board(page: Any, product: str) -> None:
    page.goto("/products")
    page.locator(".row", has_text=product).get_by_role("link", name="Board").click()
    page.locator("#board.can-drag").wait_for()  # the drag and drop is set up


def column(page: Any, status: str) -> Any:
    return page.locator(".column", has=page.get_by_role("heading", name=re.compile(f"{status}$")))


def count_of(page: Any, status: str) -> int:
    return int(column(page, status).locator("[data-count]").get_attribute("data-count"))


def drag(page: Any, card: Any, target: Any) -> None:
    """Drag ``card`` onto ``target`` with the mouse, as a person does (small steps)."""
    card.scroll_into_view_if_needed()
    start = card.locator(".board-card-title").bounding_box()
    page.mouse.move(start["x"] + start["width"] + 8, start["y"] + 4)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] + 20, start["y"] + 20, steps=5)
    target.scroll_into_view_if_needed()
    end = target.bounding_box()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=15)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 40, steps=5)
    page.mouse.up()


def test_dragging_a_card_to_another_column_moves_it_and_updates_the_totals(page, artifact):
    headers = api(page)
    umbrella = card_id(page, headers, "Sales", "Umbrella upsell")
    card = page.request.get(f"/api/v1/cards/{umbrella}", headers=headers).json()
    answer = page.request.patch(
        f"/api/v1/cards/{umbrella}",
        data={"fields": {"value": "4200"}},
        headers={**headers, "If-Match": f'"{card["version"]}"'},
    )
    assert answer.ok, answer.text()
    open_board(page, "Sales")
    source = page.locator(".board-card", has_text="Umbrella upsell")
    home = page.locator(".column").filter(has=source)
    home_name = home.locator("h2").inner_text().split("\n")[-1].strip()
    before = {"home": count_of(page, home_name), "lead": count_of(page, "Lead")}
    lead_sum = column(page, "Lead").locator("[data-sum]").inner_text()

    drag(page, source, column(page, "Lead").locator(".column-cards"))
    column(page, "Lead").locator(".board-card", has_text="Umbrella upsell").wait_for()
    page.wait_for_function(
        "n => document.querySelector('#board .column-cards[data-status-id] .board-card.is-moved')"
        " !== null",
        arg=None,
    )
    assert count_of(page, "Lead") == before["lead"] + 1
    assert count_of(page, home_name) == before["home"] - 1
    assert column(page, "Lead").locator("[data-sum]").inner_text() != lead_sum
    assert "4,200" in column(page, "Lead").locator("[data-sum]").inner_text()

    page.reload()  # saved: the card is in Lead for everyone
    assert column(page, "Lead").locator(".board-card", has_text="Umbrella upsell").is_visible()
    saved = page.request.get(f"/api/v1/cards/{umbrella}", headers=headers).json()
    statuses = page.request.get(f"/api/v1/products/{saved['product_id']}", headers=headers)
    lead = next(s for s in statuses.json()["statuses"] if s["name"] == "Lead")
    assert saved["status_id"] == lead["id"]


def test_dropping_an_invoice_on_a_status_its_plugin_refuses_shows_why_on_the_card(page, artifact):
    open_board(page, "Invoices")
    invoice = page.locator(".board-card", has_text="Invoice 2026-001 (ACME)")
    before = count_of(page, "To issue")
    drag(page, invoice, column(page, "Sent").locator(".column-cards"))
    message = page.locator(".board-card", has_text="Invoice 2026-001 (ACME)").locator(
        ".board-card-message"
    )
    message.wait_for()
    assert "An invoice needs an amount before it is sent." in message.inner_text()
    back = column(page, "To issue").locator(".board-card", has_text="Invoice 2026-001 (ACME)")
    assert back.is_visible() and "is-refused" in back.get_attribute("class")
    assert column(page, "Sent").locator(".board-card", has_text="Invoice 2026-001").count() == 0
    assert count_of(page, "To issue") == before
    page.screenshot(path=artifact("board-drag-veto-desktop.png"), full_page=True)


def test_the_board_stays_1280_wide_and_its_columns_scroll_to_won_and_lost(page, artifact):
    open_board(page, "Sales")
    assert page.evaluate("document.documentElement.scrollWidth") == 1280
    board = page.locator("#board")
    assert board.evaluate("el => el.scrollWidth > el.clientWidth")  # more columns than fit
    lost = column(page, "Lost")
    lost.scroll_into_view_if_needed()
    box = lost.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1280
    assert page.evaluate("document.documentElement.scrollWidth") == 1280
    assert page.evaluate("window.scrollX") == 0
    page.screenshot(path=artifact("board-kanban-desktop-scrolled.png"))


def test_the_card_list_sorts_by_a_column_header(page):
    page.goto("/products")
    page.locator(".row", has_text="Sales").get_by_role("link", name="Sales").click()
    page.locator("th a[data-sort='title']").click()
    page.wait_for_url(re.compile(r"sort=title"))
    titles = page.locator("#cards .card-title").all_inner_texts()
    assert titles == sorted(titles, key=str.lower) and len(titles) >= 2
    assert page.locator("th[aria-sort='ascending'] a[data-sort='title']").count() == 1
    page.locator("th a[data-sort='title']").click()
    page.wait_for_url(re.compile(r"sort=-title"))
    assert page.locator("#cards .card-title").all_inner_texts() == list(reversed(titles))


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_screenshots_of_the_board_and_the_card_list(new_tab, artifact, width, height, name):
    errors: list[str] = []
    tab = new_tab(width, height)
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else 0)
    open_board(tab, "Sales")
    tab.screenshot(path=artifact(f"board-kanban-{name}.png"), full_page=False)
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    if name == "phone":  # one column at a time, and a swipe snaps to the next
        board = tab.locator("#board")
        assert board.evaluate("el => getComputedStyle(el).scrollSnapType").startswith("x")
        first = tab.locator(".column").first.bounding_box()
        assert first["width"] < width and first["width"] > width * 0.7
        board.evaluate("el => el.scrollBy({left: el.clientWidth * 0.6})")
        tab.wait_for_timeout(600)
        second = tab.locator(".column").nth(1).bounding_box()
        assert abs(second["x"] - first["x"]) < 2  # snapped to the next column
        tab.screenshot(path=artifact(f"board-kanban-{name}-swiped.png"))
    tab.goto("/products")
    tab.locator(".row", has_text="Sales").get_by_role("link", name="Sales").click()
    tab.locator("th a[data-sort='title']").click()
    tab.wait_for_url(re.compile(r"sort=title"))
    tab.screenshot(path=artifact(f"card-list-{name}.png"), full_page=True)
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == []
