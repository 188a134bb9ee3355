"""The web UI in a real browser: Chromium (Playwright) against a real ``cardcrm up`` server with
its demo data, logged in as the demo admin. Skipped unless CARDCRM_TEST_BROWSER names the
browser (CI sets /usr/bin/chromium). Screenshots land in test-artifacts/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = pytest.mark.slow

DEMO_ZONE = ZoneInfo("Europe/Bucharest")  # the demo admin's time zone


def totals(page: Any) -> dict[str, int]:
    return {
        key: int(page.locator(f'[data-total="{key}"] dd').inner_text())
        for key in ("due", "overdue", "closed", "postponed")
    }


def api(page: Any) -> dict[str, str]:
    """Bearer headers for setting data up through the API, as another client would."""
    answer = page.request.post(
        "/api/v1/auth/token", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert answer.status == 201
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def card_id(page: Any, headers: dict, product: str, title: str) -> int:
    products = page.request.get("/api/v1/products", headers=headers).json()["items"]
    product_id = next(item["id"] for item in products if item["name"] == product)
    cards = page.request.get(
        f"/api/v1/products/{product_id}/cards", params={"q": title}, headers=headers
    ).json()["items"]
    return cards[0]["id"]


def add_task_due_today(page: Any, text: str) -> None:
    headers = api(page)
    card = card_id(page, headers, "Projects", "Website relaunch")
    today = datetime.now(DEMO_ZONE).date().isoformat()
    answer = page.request.post(
        f"/api/v1/cards/{card}/tasks",
        data={"text": text, "due": today, "all_day": True},
        headers=headers,
    )
    assert answer.status == 201


def test_closing_and_postponing_tasks_update_the_totals_without_a_reload(page):
    add_task_due_today(page, "Book the meeting room")
    add_task_due_today(page, "Order the banners")
    page.reload()
    page.evaluate("window.stillTheSamePage = true")
    before = totals(page)
    assert before["overdue"] >= 1 and before["due"] >= 2

    overdue = page.locator('li.task[data-state="overdue"]').first
    assert overdue.locator(".badge.overdue").inner_text().lower() == "overdue"
    row_id = overdue.get_attribute("id")
    overdue.get_by_role("button", name=re.compile("^Done")).click()
    page.locator(f'#{row_id}[data-state="closed"]').wait_for()
    after_close = totals(page)
    assert after_close["closed"] == before["closed"] + 1
    assert after_close["overdue"] == before["overdue"] - 1

    row = page.locator("li.task", has_text="Book the meeting room")
    row.locator("summary").click()  # the row's menu of secondary actions
    row.get_by_role("button", name="+1 day").click()
    page.locator('li.task[data-state="postponed"]', has_text="Book the meeting room").wait_for()
    after_postpone = totals(page)
    assert after_postpone["postponed"] == before["postponed"] + 1
    assert after_postpone["due"] == before["due"] - 1

    row = page.locator("li.task", has_text="Order the banners")
    row.locator("summary").click()
    next_week = (datetime.now(DEMO_ZONE).date() + timedelta(days=7)).isoformat()
    row.get_by_label(re.compile("Postpone .* to the date")).fill(next_week)
    row.get_by_role("button", name="Postpone", exact=True).click()
    page.locator('li.task[data-state="postponed"]', has_text="Order the banners").wait_for()
    assert totals(page)["postponed"] == before["postponed"] + 2
    assert page.evaluate("window.stillTheSamePage") is True  # no full page load happened


def test_changing_the_period_shows_later_tasks(page):
    later_task = page.get_by_text("Follow up: Initech pilot", exact=True)  # due tomorrow or later
    assert later_task.count() == 0
    today = datetime.now(DEMO_ZONE).date()
    page.get_by_label("From", exact=True).fill(today.isoformat())
    page.get_by_label("To", exact=True).fill((today + timedelta(days=7)).isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"from=.*&to="))
    assert page.get_by_text("Follow up: Initech pilot", exact=True).is_visible()
    assert "–" in page.locator("#today-title").inner_text()


def test_an_admin_creates_a_product_from_a_template_then_a_card_and_a_task(page):
    page.get_by_role("link", name="Products", exact=True).click()
    page.get_by_label("Name", exact=True).fill("Hiring 2027")
    page.get_by_label(re.compile("^Template")).select_option("recruiting")
    page.get_by_role("button", name="Create the product").click()
    page.get_by_role("heading", name="Hiring 2027").wait_for()
    assert page.locator(".status-group", has_text="Positive result").get_by_text("Hired").count()

    page.get_by_label("Title", exact=True).fill("Jane Doe")
    page.get_by_label(re.compile("^Position")).fill("Designer")
    page.get_by_role("button", name="Create the card").click()
    page.get_by_role("heading", name="Jane Doe").wait_for()

    page.get_by_label("What to do").fill("Phone screen with Jane")
    page.get_by_label("Date", exact=True).fill(datetime.now(DEMO_ZONE).date().isoformat())
    page.get_by_role("button", name="Add the task").click()
    page.locator("#tasks li.task", has_text="Phone screen with Jane").wait_for()

    page.get_by_role("link", name="Today", exact=True).click()
    assert page.locator("li.task", has_text="Phone screen with Jane").is_visible()


def test_moving_cards_on_the_board_shows_a_veto_and_a_win_reaches_the_wall(page, artifact):
    page.goto("/products")
    page.locator(".row", has_text="Invoices").get_by_role("link", name="Board").click()
    card = page.locator(".board-card", has_text="Invoice 2026-001 (ACME)")
    card.hover()  # with a mouse, a card's Move form shows on the card under it
    card.get_by_label(re.compile("Move .* to")).select_option(label="Sent")
    card.get_by_role("button", name="Move").click()
    message = page.locator(".board-card", has_text="Invoice 2026-001 (ACME)").locator(".message")
    message.wait_for()
    assert "An invoice needs an amount before it is sent." in message.inner_text()
    column = page.locator(".column", has=page.get_by_role("heading", name=re.compile("To issue")))
    assert column.get_by_role("link", name="Invoice 2026-001 (ACME)").is_visible()
    page.screenshot(path=artifact("board-veto-desktop.png"), full_page=True)

    page.goto("/products")
    page.locator(".row", has_text="Sales").get_by_role("link", name="Board").click()
    card = page.locator(".board-card", has_text="Initech pilot")
    card.hover()
    card.get_by_label(re.compile("Move .* to")).select_option(label="Won")
    card.get_by_role("button", name="Move").click()
    won = page.locator(".column", has=page.get_by_role("heading", name=re.compile("Won$")))
    won.get_by_role("link", name="Initech pilot").wait_for()

    page.get_by_role("link", name="Wall", exact=True).click()
    first = page.locator(".wall-list li").first
    assert "Initech pilot" in first.inner_text() and "moved to Won" in first.inner_text()


def test_a_favourite_filter_is_saved_and_applied_and_opened_cards_are_recent(page):
    page.goto("/products")
    page.locator(".row", has_text="Sales").get_by_role("link", name="Sales").click()
    page.get_by_label("Title contains").fill("ACME")
    page.get_by_role("button", name="Filter").click()
    page.get_by_label("Name of this filter").fill("ACME deals")
    page.get_by_role("button", name="Save as favourite").click()
    page.get_by_text("Saved as a favourite").wait_for()

    page.get_by_role("link", name="Today", exact=True).click()
    page.locator("#favorites").get_by_role("link", name="ACME deals").click()
    cards = page.locator("#cards .card-row")
    assert cards.count() == 1 and "ACME Corp" in cards.first.inner_text()

    cards.first.get_by_role("link").click()
    page.get_by_role("heading", name="ACME Corp: 20 licences").wait_for()
    page.get_by_role("link", name="Today", exact=True).click()
    recent = page.locator("#recent li").first
    assert recent.inner_text() == "ACME Corp: 20 licences"


def test_a_post_without_the_csrf_token_is_refused(page):
    answer = page.request.post("/tasks/1/close", form={"view": "today"})
    assert answer.status == 403
    assert "security token" in answer.text()


def test_a_stale_card_edit_keeps_what_was_typed(page, new_tab):
    page.goto("/products")
    page.locator(".row", has_text="Recruiting").get_by_role("link", name="Recruiting").click()
    page.get_by_role("link", name="John Smith").click()
    page.get_by_label("Title", exact=True).fill("John Smith (senior)")

    colleague = new_tab()  # someone else saves the same card meanwhile
    colleague.goto(page.url)
    colleague.get_by_label("Title", exact=True).fill("John Smith, backend")
    colleague.get_by_role("button", name="Save", exact=True).click()
    colleague.get_by_text("The card is saved.").wait_for()

    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Someone else changed this card").wait_for()
    assert page.get_by_label("Title", exact=True).input_value() == "John Smith (senior)"
    assert page.locator(".their-value", has_text="John Smith, backend").is_visible()


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_screenshots_of_the_today_view_and_a_board(new_tab, artifact, width, height, name):
    errors: list[str] = []
    tab = new_tab(width, height)
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else 0)
    tab.reload()
    tab.screenshot(path=artifact(f"today-{name}.png"), full_page=True)
    tab.goto("/products")
    tab.locator(".row", has_text="Sales").get_by_role("link", name="Board").click()
    tab.locator("#board").wait_for()
    tab.screenshot(path=artifact(f"board-{name}.png"), full_page=True)
    if name == "phone":  # one column: nothing wider than the screen
        assert tab.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == []  # no CSP violation, no failed script
