"""The installable app in a real browser (Chromium, Playwright) against ``cardcrm up``: the
service worker registers and controls the page; offline, Today, the recent cards and a card
open from the last visit under the "Offline — last updated at" banner; Done offline is
refused and nothing is sent later; back online the banner goes; logging out forgets the kept
pages. And thumbs: every action of Today and the board at least 44 px tall at 390×844, the
board swiping between columns. Screenshots pwa-*.png land in test-artifacts/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import DEMO_EMAIL, DEMO_PASSWORD, log_in
from .test_browser import add_task_due_today, api, card_id
from .test_browser_board import open_board

pytestmark = pytest.mark.slow

BANNER = "[data-offline-banner]"
KEPT_PAGES = (
    "async () => { if (!(await caches.has('cardcrm-pages'))) return [];"
    " const cache = await caches.open('cardcrm-pages');"
    " return (await cache.keys()).map(request => new URL(request.url).pathname); }"
)
#: What a thumb taps on Today and the board: buttons, menus, fields, and links that act as
#: buttons. Inline links inside a sentence (a task's card) are exempt, as in WCAG 2.5.8.
ACTIONS = (
    "main button, main summary, main select, main .button, main .period-step,"
    " main .period-shortcuts a, main .column-more, main .board-card-title, main .list-head a,"
    " main input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
)


def poll(check: Any, what: str, seconds: float = 15) -> Any:
    """Wait until ``check()`` is truthy (the CSP forbids string wait_for_function)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def controlled(tab: Any) -> None:
    poll(
        lambda: tab.evaluate("() => !!navigator.serviceWorker.controller"),
        "the service worker to control the page",
        seconds=30,  # it installs again a few seconds after a failed try (pwa.js)
    )


def kept(tab: Any, *paths: str) -> list[str]:
    return poll(
        lambda: (found := tab.evaluate(KEPT_PAGES)) and set(paths) <= set(found) and found,
        f"the worker to keep {paths}",
    )


def test_today_a_recent_card_and_refusals_offline_then_back_online(new_tab, artifact):
    tab = new_tab(390, 844)
    add_task_due_today(tab, "Call the printer (offline)")
    headers = api(tab)
    card = card_id(tab, headers, "Projects", "Website relaunch")
    controlled(tab)
    tab.goto(f"/cards/{card}")  # opened: a recent card
    tab.goto("/recent")
    tab.goto("/")
    kept(tab, "/", "/recent", f"/cards/{card}")
    assert tab.locator(BANNER).count() == 0  # online: the live page, no banner

    tab.context.set_offline(True)
    tab.reload()
    banner = tab.locator(BANNER)
    banner.wait_for()
    assert banner.inner_text().startswith("Offline — last updated at ")
    assert banner.inner_text().endswith("Read-only until you are back online.")
    row = tab.locator("li.task", has=tab.get_by_text("Call the printer (offline)", exact=True))
    assert row.is_visible()
    tab.screenshot(path=artifact("pwa-offline-today-phone.png"), full_page=True)

    row.get_by_role("button", name="Done: Call the printer (offline)").click()
    refusal = tab.locator("[data-offline-refusal]")
    refusal.wait_for()
    assert "You are offline: this was not done" in refusal.inner_text()
    assert row.get_attribute("data-state") in {"due", "overdue"}  # unchanged on the page

    tab.goto("/recent")
    assert tab.locator(BANNER).is_visible()
    tab.get_by_role("link", name="Website relaunch").first.click()
    tab.get_by_role("heading", name="Website relaunch").wait_for()
    assert tab.locator(BANNER).is_visible()

    tab.goto("/")
    tab.locator(BANNER).wait_for()
    tab.context.set_offline(False)
    poll(lambda: tab.locator(BANNER).count() == 0, "the banner to go once back online")
    # Nothing was queued: the task is still open on the server, and stays so.
    time.sleep(1)
    tasks = tab.request.get(f"/api/v1/cards/{card}/tasks", headers=headers).json()["items"]
    printer = next(task for task in tasks if task["text"] == "Call the printer (offline)")
    assert printer["status"] == "open"


def test_a_worker_whose_install_failed_installs_again_while_the_page_stays_open(
    browser, live_server
):
    """The worker's first try at keeping the assets meets a network failure (one script's
    download is cut): it is not installed then, and seconds later, with no reload, it is."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server)
    context.set_default_timeout(10_000)
    asked: list[str] = []

    def cut_the_first(route: Any) -> None:
        asked.append(route.request.url)
        if len(asked) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    try:
        # Logged in without a page (the login page would start a worker of its own), so the
        # Today view is the one page, and it stays open.
        login = context.request.get("/login").text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert token is not None
        answer = context.request.post(
            "/login",
            form={"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token[1]},
        )
        assert answer.ok, answer.status
        context.route("**/assets/Sortable.min.js", cut_the_first)  # the board's, not Today's
        tab = context.new_page()
        tab.goto("/")
        assert tab.title().startswith("Today")
        controlled(tab)
        assert len(asked) >= 2  # cut once, then kept
        assert tab.url.endswith("/")
    finally:
        context.close()


def test_logging_out_forgets_the_pages_kept_for_offline_use(new_tab):
    tab = new_tab(1280, 800)
    controlled(tab)
    tab.goto("/recent")
    kept(tab, "/recent")

    tab.get_by_role("button", name="Log out").click()
    tab.wait_for_url("**/login")

    poll(lambda: "/recent" not in tab.evaluate(KEPT_PAGES), "the kept pages to be forgotten")
    tab.context.set_offline(True)
    tab.goto("/recent")
    assert tab.get_by_role("heading", name="You are offline").is_visible()
    assert tab.get_by_text("Recently opened cards").count() == 0


def test_offline_today_on_a_desktop(new_tab, artifact):
    tab = new_tab(1280, 800)
    controlled(tab)
    tab.reload()
    kept(tab, "/")
    tab.context.set_offline(True)
    tab.reload()
    tab.locator(BANNER).wait_for()
    tab.screenshot(path=artifact("pwa-offline-today-desktop.png"))
    tab.context.set_offline(False)


def test_the_mobile_page_explains_installing_the_app(new_tab, artifact):
    tab = new_tab(390, 844)
    tab.goto("/mobile")
    for heading in ("Install the app", "Without a connection", "Both ways with CalDAV"):
        assert tab.get_by_role("heading", name=heading).is_visible()
    assert tab.get_by_text("Add to Home Screen").first.is_visible()
    tab.screenshot(path=artifact("pwa-mobile-page-phone.png"), full_page=True)


def small_targets(tab: Any) -> list[str]:
    """The visible actions under 44 px tall, named for the failure message."""
    return tab.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
             .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
             .filter(e => e.getBoundingClientRect().height < 44)
             .map(e => `${e.tagName.toLowerCase()} "${(e.getAttribute('aria-label')
                  || e.textContent || e.name || '').trim().slice(0, 40)}"
                  ${Math.round(e.getBoundingClientRect().height)}px`)""",
        ACTIONS,
    )


@pytest.fixture
def phone(browser: Any, live_server: str) -> Iterator[Any]:
    """A logged-in tab of a touch phone (no hover: the board shows each card's Move form)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, base_url=live_server
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    log_in(tab)
    yield tab
    context.close()


def test_every_today_and_board_action_fits_a_thumb_on_a_phone(phone, artifact):
    tab = phone
    add_task_due_today(tab, "Water the plants (thumbs)")
    tab.reload()
    tab.locator("li.task").first.wait_for()
    assert small_targets(tab) == [], small_targets(tab)
    tab.locator("summary", has_text="More").first.click()  # the row's menu, opened
    assert small_targets(tab) == [], small_targets(tab)
    tab.screenshot(path=artifact("pwa-touch-today-phone.png"))

    open_board(tab, "Sales")
    assert tab.locator(".board-card .move button").first.is_visible()
    assert small_targets(tab) == [], small_targets(tab)
    tab.screenshot(path=artifact("pwa-touch-board-phone.png"))
    # One column at a time; a swipe sideways snaps to the next.
    board = tab.locator("#board")
    assert board.evaluate("e => getComputedStyle(e).scrollSnapType") == "x mandatory"
    assert board.evaluate("e => e.scrollWidth > e.clientWidth")
    second = tab.locator(".column").nth(1)
    second_left = second.evaluate(
        "e => e.getBoundingClientRect().left - e.parentElement.getBoundingClientRect().left"
    )
    board.evaluate("e => e.scrollBy({left: e.clientWidth * 0.6, behavior: 'instant'})")
    poll(
        lambda: abs(board.evaluate("e => e.scrollLeft") - second_left) < 2,
        "the board to snap to the second column",
    )
