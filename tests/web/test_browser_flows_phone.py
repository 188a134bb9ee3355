"""Flows at phone size (390×844, a touch screen with no mouse to hover) in a real browser
(Chromium, Playwright) against ``cardcrm up`` with its demo data: the board's Move form meeting a
plugin's veto, a Today total opening its list, and the period shortcuts. Their desktop versions
are in test_browser_board.py and test_browser_today.py; screenshots land in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from .conftest import log_in
from .test_browser_board import column, count_of
from .test_browser_today import add_task, at_ten, local_day, row, total

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 390, 844


@pytest.fixture
def phone(browser: Any, live_server: str) -> Iterator[Any]:
    """A logged-in tab on a phone: 390×844, touch, no hover (the Move forms always show)."""
    context = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT},
        base_url=live_server,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    errors: list[str] = []
    tab = context.new_page()
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else 0)
    log_in(tab)
    yield tab
    context.close()
    # No CSP violation, no failed script; a refused move is logged as a failed load (422).
    assert [error for error in errors if "status of 422" not in error] == []


def fits(tab: Any) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_the_move_form_on_a_phone_shows_a_plugins_veto_on_the_card(phone, artifact):
    phone.goto("/products")
    phone.locator(".row", has_text="Invoices").get_by_role("link", name="Board").click()
    phone.locator("#board.can-drag").wait_for()
    title = "Invoice 2026-001 (ACME)"
    before = count_of(phone, "To issue")
    card = phone.locator(".board-card", has_text=title)
    chooser = card.get_by_label(f"Move “{title}” to")
    assert chooser.is_visible()  # no hover on a phone: the form shows without it
    chooser.select_option(label="Sent")
    chooser.focus()
    phone.keyboard.press("Tab")  # to the card's Move button, as from a keyboard
    assert phone.evaluate("document.activeElement.textContent.trim()") == "Move"
    phone.keyboard.press("Enter")

    # htmx settles the swapped card's new classes a moment after its content.
    back = column(phone, "To issue").locator(".board-card.is-refused", has_text=title)
    back.wait_for()
    message = back.locator(".board-card-message")
    assert "An invoice needs an amount before it is sent." in message.inner_text()
    assert column(phone, "Sent").locator(".board-card", has_text=title).count() == 0
    assert count_of(phone, "To issue") == before
    assert message.is_visible() and fits(phone)
    box = message.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH  # readable without scrolling
    phone.screenshot(path=artifact("board-veto-phone.png"), full_page=False)

    phone.reload()  # nothing was saved: still "To issue" for everyone
    assert column(phone, "To issue").locator(".board-card", has_text=title).is_visible()


def test_a_total_opens_its_closed_and_postponed_lists_on_a_phone(phone, artifact):
    add_task(phone, "Close me (phone)", local_day().date().isoformat(), True)
    add_task(phone, "Postpone me (phone)", local_day().date().isoformat(), True)
    phone.reload()
    closed_before, postponed_before = total(phone, "closed"), total(phone, "postponed")
    row(phone, "Close me (phone)").get_by_role("button", name=re.compile("^Done")).click()
    phone.locator('li.task[data-state="closed"]', has_text="Close me (phone)").wait_for()
    late = row(phone, "Postpone me (phone)")
    late.locator("summary").click()
    late.get_by_role("button", name="+1 day").click()
    phone.locator('li.task[data-state="postponed"]', has_text="Postpone me (phone)").wait_for()
    phone.reload()

    phone.get_by_role("link", name=f"Closed: {closed_before + 1}").click()
    phone.wait_for_url(re.compile(r"show=closed"))
    phone.get_by_role("heading", name="Closed in this period").wait_for()
    closed = row(phone, "Close me (phone)")
    assert closed.get_attribute("data-state") == "closed"
    states = phone.locator("li.task").evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert set(states) == {"closed"} and len(states) == closed_before + 1
    assert phone.locator('[data-total="closed"]').get_attribute("class").count("is-current")
    assert fits(phone)
    phone.screenshot(path=artifact("today-closed-list-390.png"), full_page=False)

    phone.get_by_role("link", name=f"Postponed: {postponed_before + 1}").click()
    phone.wait_for_url(re.compile(r"show=postponed"))
    postponed = row(phone, "Postpone me (phone)")
    assert postponed.get_attribute("data-state") == "postponed"
    assert fits(phone)
    phone.screenshot(path=artifact("today-postponed-list-390.png"), full_page=False)

    phone.get_by_role("link", name="Back to the tasks").click()
    phone.wait_for_url(lambda url: "show=" not in url)
    assert row(phone, "Close me (phone)").count() == 0


def test_the_period_shortcuts_on_a_phone(phone, artifact):
    add_task(phone, "Late since yesterday (phone)", at_ten(-1))
    add_task(phone, "In eight days (phone)", at_ten(8))
    shortcuts = phone.get_by_role("navigation", name="Periods")
    shortcuts.get_by_role("link", name="Next week").scroll_into_view_if_needed()
    assert shortcuts.get_by_role("link", name="Next week").is_visible()
    shortcuts.get_by_role("link", name="Next week").click()
    phone.wait_for_url(re.compile(r"from=.*&to="))
    monday = local_day().date() + timedelta(days=7 - local_day().weekday())
    sunday = monday + timedelta(days=6)
    assert phone.get_by_label("From", exact=True).input_value() == monday.isoformat()
    assert phone.get_by_label("To", exact=True).input_value() == sunday.isoformat()
    assert phone.locator(".today-kicker").inner_text().lower() == "next week"
    assert shortcuts.get_by_role("link", name="Next week").get_attribute("aria-current") == "page"
    assert row(phone, "Late since yesterday (phone)").get_attribute("data-state") == "overdue"
    eight_days = local_day(8).date()
    assert row(phone, "In eight days (phone)").count() == (1 if eight_days <= sunday else 0)
    assert fits(phone)
    phone.screenshot(path=artifact("today-next-week-390.png"), full_page=False)

    # The arrows shift by the period's length.
    phone.get_by_role("link", name=re.compile("^Previous period")).click()
    phone.wait_for_url(re.compile(r"from=.*&to="))
    this_monday = monday - timedelta(days=7)
    assert phone.get_by_label("From", exact=True).input_value() == this_monday.isoformat()
    assert phone.locator(".today-kicker").inner_text().lower() == "this week"

    shortcuts.get_by_role("link", name="Today").click()
    phone.wait_for_url(re.compile(r"from=.*&to="))
    today = local_day().date().isoformat()
    assert phone.get_by_label("From", exact=True).input_value() == today
    assert phone.get_by_label("To", exact=True).input_value() == today
    assert row(phone, "In eight days (phone)").count() == 0
    assert fits(phone)
    phone.screenshot(path=artifact("today-shortcuts-390.png"), full_page=False)

    # The last shortcut is past the screen's edge: the row scrolls sideways to reach it.
    month = shortcuts.get_by_role("link", name="This month")
    month.scroll_into_view_if_needed()
    box = month.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
    month.click()
    phone.wait_for_url(re.compile(r"from=.*&to="))
    first = local_day().date().replace(day=1)
    assert phone.get_by_label("From", exact=True).input_value() == first.isoformat()
    in_month = eight_days.month == first.month
    assert row(phone, "In eight days (phone)").count() == (1 if in_month else 0)
    assert fits(phone)
