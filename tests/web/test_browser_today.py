"""The Today view in a real browser (Chromium, Playwright) against ``cardcrm up`` with its demo
data: the period's shortcuts and arrows, overdue meaning "its deadline has passed", a total
opening its list, and the keyboard (focus after Done, the row's menu). Screenshots of Today at
1280×800 and 390×844 land in test-artifacts/."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from .test_browser import DEMO_ZONE, api, card_id

pytestmark = pytest.mark.slow


def add_task(page: Any, text: str, due: str, all_day: bool = False) -> None:
    headers = api(page)
    card = card_id(page, headers, "Projects", "Website relaunch")
    answer = page.request.post(
        f"/api/v1/cards/{card}/tasks",
        data={"text": text, "due": due, "all_day": all_day},
        headers=headers,
    )
    assert answer.status == 201, answer.text()


def local_day(days: int = 0) -> datetime:
    return datetime.now(DEMO_ZONE) + timedelta(days=days)


def at_ten(days: int) -> str:
    return local_day(days).replace(hour=10, minute=0, second=0, microsecond=0).isoformat()


def row(page: Any, text: str) -> Any:
    return page.locator("li.task", has=page.get_by_text(text, exact=True))


def total(page: Any, key: str) -> int:
    return int(page.locator(f'[data-total="{key}"] dd').inner_text())


def focused(page: Any) -> str:
    """What has the keyboard focus: its accessible label, or its text."""
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return (e.getAttribute('aria-label') || e.textContent || e.tagName).trim(); }"
    )


def test_period_shortcuts_and_overdue_meaning_its_deadline_has_passed(page, artifact):
    add_task(page, "Due tomorrow (shortcuts)", at_ten(1))
    add_task(page, "Late since yesterday (shortcuts)", at_ten(-1))
    add_task(page, "All day yesterday (shortcuts)", local_day(-1).date().isoformat(), True)

    page.get_by_role("navigation", name="Periods").get_by_role("link", name="Next week").click()
    page.wait_for_url(re.compile(r"from=.*&to="))
    monday = local_day().date() + timedelta(days=7 - local_day().weekday())
    assert page.get_by_label("From", exact=True).input_value() == monday.isoformat()
    assert (
        page.get_by_label("To", exact=True).input_value()
        == (monday + timedelta(days=6)).isoformat()
    )
    assert page.locator(".today-kicker").inner_text().lower() == "next week"
    # A task due tomorrow is not late: never OVERDUE (listed only if tomorrow is next week).
    tomorrow = row(page, "Due tomorrow (shortcuts)")
    assert tomorrow.locator(".badge.overdue").count() == 0
    if local_day().weekday() != 6:
        assert tomorrow.count() == 0
    # Yesterday's tasks are late whatever the period.
    late = row(page, "Late since yesterday (shortcuts)")
    assert late.get_attribute("data-state") == "overdue"
    assert row(page, "All day yesterday (shortcuts)").get_attribute("data-state") == "overdue"
    overdue_next_week = total(page, "overdue")
    assert overdue_next_week >= 2

    page.get_by_role("link", name="This week").click()
    page.wait_for_url(re.compile(r"from=.*&to="))
    late = row(page, "Late since yesterday (shortcuts)")
    assert late.locator(".badge.overdue").inner_text().lower() == "overdue"
    # Tomorrow's task: due if tomorrow is this week (not on a Sunday), never overdue.
    assert row(page, "Due tomorrow (shortcuts)").locator(".badge.overdue").count() == 0
    if local_day().weekday() != 6:
        assert row(page, "Due tomorrow (shortcuts)").get_attribute("data-state") == "due"
    assert total(page, "overdue") == overdue_next_week  # the same whatever the period
    page.screenshot(path=str(artifact("today-this-week-1280.png")), full_page=False)

    # The arrows shift by the period's length: back one week from this week.
    this_week_from = page.get_by_label("From", exact=True).input_value()
    page.get_by_role("link", name=re.compile("^Previous period")).click()
    page.wait_for_url(re.compile(r"from=.*&to="))
    shifted = datetime.fromisoformat(page.get_by_label("From", exact=True).input_value())
    assert (datetime.fromisoformat(this_week_from) - shifted).days == 7

    page.get_by_role("link", name="Today", exact=True).first.click()
    page.screenshot(path=str(artifact("today-1280.png")), full_page=False)


def test_a_total_opens_its_list_with_the_closed_tasks(page, artifact):
    add_task(page, "Close me (totals)", local_day().date().isoformat(), True)
    page.reload()
    closed_before = total(page, "closed")
    row(page, "Close me (totals)").get_by_role("button", name=re.compile("^Done")).click()
    page.locator('li.task[data-state="closed"]', has_text="Close me (totals)").wait_for()
    page.reload()
    assert row(page, "Close me (totals)").count() == 0  # gone from the day's list...

    page.get_by_role("link", name=f"Closed: {closed_before + 1}").click()
    page.wait_for_url(re.compile(r"show=closed"))
    page.get_by_role("heading", name="Closed in this period").wait_for()
    closed = row(page, "Close me (totals)")  # ...and in the Closed list
    assert closed.get_attribute("data-state") == "closed"
    page.screenshot(path=str(artifact("today-closed-list-1280.png")), full_page=False)
    closed.get_by_role("button", name=re.compile("^Reopen")).click()
    page.locator('li.task[data-state="due"]', has_text="Close me (totals)").wait_for()

    page.get_by_role("link", name=re.compile(r"^Overdue: \d+")).click()
    page.wait_for_url(re.compile(r"show=overdue"))
    states = page.locator("li.task").evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert states and set(states) == {"overdue"}


def focus_on_a_done_button(page: Any) -> None:
    """Wait until the focus is on a task's Done button (polled from here: the page's CSP
    refuses the string evaluation ``wait_for_function`` does in the page)."""
    deadline = time.monotonic() + 10
    while not page.evaluate("document.activeElement.hasAttribute('data-task-done')"):
        assert time.monotonic() < deadline, "the focus never reached a Done button"
        time.sleep(0.05)


def test_after_done_or_postpone_the_focus_moves_to_the_next_task(page):
    for name in ("First (keys)", "Second (keys)", "Third (keys)"):
        add_task(page, name, local_day().replace(hour=23, minute=58).isoformat())
    page.get_by_role("navigation", name="Periods").get_by_role("link", name="Today").click()
    page.wait_for_url(re.compile(r"from=.*&to="))

    row(page, "First (keys)").get_by_role("button", name=re.compile("^Done")).focus()
    page.keyboard.press("Enter")
    page.locator('li.task[data-state="closed"]', has_text="First (keys)").wait_for()
    focus_on_a_done_button(page)
    assert focused(page) == "Done: Second (keys)"

    # Its menu by keyboard: Tab to the toggle, arrows into the menu, Esc back out.
    page.keyboard.press("Tab")
    assert focused(page) == "More actions: Second (keys)"
    page.keyboard.press("ArrowDown")
    assert focused(page) == "+1 day"
    menu = row(page, "Second (keys)").locator("details")
    assert menu.locator("summary").get_attribute("aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    assert focused(page) == "Next Monday"
    page.keyboard.press("Escape")
    assert focused(page) == "More actions: Second (keys)"
    assert menu.locator("summary").get_attribute("aria-expanded") == "false"
    assert not menu.evaluate("node => node.open")

    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # +1 day
    page.locator('li.task[data-state="postponed"]', has_text="Second (keys)").wait_for()
    focus_on_a_done_button(page)
    assert focused(page) == "Done: Third (keys)"


def test_today_at_phone_width(new_tab, artifact):
    tab = new_tab(390, 844)
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    tab.screenshot(path=str(artifact("today-390.png")), full_page=False)
    tab.screenshot(path=str(artifact("today-390-full.png")), full_page=True)
    row = tab.locator('li.task[data-state="overdue"]').first
    row.locator("summary").click()
    row.get_by_role("button", name="Next Monday").wait_for()
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    tab.screenshot(path=str(artifact("today-390-menu.png")), full_page=False)
