"""People's own formats in a real browser: a Romanian user's board writes lei as the server
does, before and after a drag (the sums come in the server's HTML), and a text the board's
script writes itself comes in Romanian. Screenshots: ro-board-desktop.png, ro-board-phone.png."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from .conftest import log_in
from .test_browser import api
from .test_browser_board import column, count_of, drag

pytestmark = pytest.mark.slow
NBSP = "\u00a0"


@pytest.fixture
def romanian(page: Any) -> Any:
    """The demo admin with Romanian in their profile, and a process of theirs worth lei."""
    headers = api(page)
    answer = page.request.patch("/api/v1/me", data={"language": "ro"}, headers=headers)
    assert answer.ok, answer.text()
    product = page.request.post(
        "/api/v1/products",
        data={
            "name": f"Vânzări {uuid.uuid4().hex[:4]}",
            "statuses": [
                {"name": "Nou", "group": "inactive"},
                {"name": "Ofertă", "group": "in_progress"},
                {"name": "Câștigat", "group": "positive"},
            ],
            "fields": [{"key": "value", "label": "Valoare", "type": "money", "currency": "RON"}],
        },
        headers=headers,
    )
    assert product.ok, product.text()
    made = product.json()
    for title, value in (("Contract ACME", "1250"), ("Licențe Globex", "1000.5")):
        card = page.request.post(
            f"/api/v1/products/{made['id']}/cards",
            data={"title": title, "fields": {"value": value}},
            headers=headers,
        )
        assert card.ok, card.text()
    yield made
    page.request.patch("/api/v1/me", data={"language": None}, headers=headers)


def open_board(page: Any, product: dict) -> None:
    page.goto(f"/products/{product['id']}/board")
    page.locator("#board.can-drag").wait_for()


def test_a_romanian_board_writes_lei_before_and_after_a_drag(page, romanian, artifact):
    open_board(page, romanian)
    assert page.locator("html").get_attribute("lang") == "ro"
    assert column(page, "Nou").locator("[data-sum]").inner_text() == f"2.250,50{NBSP}lei"
    page.screenshot(path=artifact("ro-board-desktop.png"))

    card = page.locator(".board-card", has_text="Contract ACME")
    assert f"1.250,00{NBSP}lei" in card.inner_text()
    drag(page, card, column(page, "Ofertă").locator(".column-cards"))
    column(page, "Ofertă").locator('[data-count="1"]').wait_for()  # the server's board is in
    assert column(page, "Ofertă").locator(".board-card", has_text="Contract ACME").is_visible()
    assert column(page, "Ofertă").locator("[data-sum]").inner_text() == f"1.250,00{NBSP}lei"
    assert column(page, "Nou").locator("[data-sum]").inner_text() == f"1.000,50{NBSP}lei"


def test_a_refused_drag_is_told_in_romanian_by_the_boards_script(browser, live_server, romanian):
    # Without the service worker, whose own requests the browser's routes do not see
    context = browser.new_context(base_url=live_server, service_workers="block")
    context.set_default_timeout(10_000)
    try:
        tab = context.new_page()
        log_in(tab)
        open_board(tab, romanian)
        tab.route(re.compile(r"/cards/\d+/move$"), lambda route: route.abort())
        card = tab.locator(".board-card", has_text="Licențe Globex")
        drag(tab, card, column(tab, "Câștigat").locator(".column-cards"))
        message = tab.locator(".board-card", has_text="Licențe Globex").locator(
            ".board-card-message"
        )
        message.wait_for()
        assert message.inner_text() == "Serverul nu poate fi contactat: cardul nu a fost mutat."
        assert count_of(tab, "Nou") == 2  # back where it was
        assert column(tab, "Nou").locator(".board-card", has_text="Licențe Globex").is_visible()
    finally:
        context.close()


def test_a_romanian_board_on_a_phone(new_tab, romanian, artifact):
    tab = new_tab(390, 844)
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else 0)
    open_board(tab, romanian)
    assert f"2.250,50{NBSP}lei" in tab.locator("#board").inner_text()
    tab.screenshot(path=artifact("ro-board-phone.png"))
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == []


def test_the_offline_banner_and_pages_speak_the_readers_language(new_tab, romanian, artifact):
    from .test_browser_pwa import BANNER, controlled, kept, poll

    tab = new_tab(390, 844)
    controlled(tab)
    tab.goto("/")
    kept(tab, "/")
    # The page gave the worker its words for the pages it writes itself
    poll(
        lambda: tab.evaluate(
            "async () => !!(await (await caches.open('cardcrm-words')).match('/__cardcrm_words__'))"
        ),
        "the worker to keep the page's words",
    )
    tab.context.set_offline(True)
    tab.reload()
    banner = tab.locator(BANNER)
    banner.wait_for()
    poll(lambda: banner.inner_text().startswith("Offline — ultima actualizare: "), "Romanian")
    assert banner.inner_text().endswith("Doar citire până reveniți online.")
    moment = banner.locator("time")
    assert moment.inner_text() == tab.evaluate(
        "at => window.cardcrmDates.format(at, 'moment')", moment.get_attribute("datetime")
    )
    tab.screenshot(path=artifact("ro-offline-today-phone.png"))

    tab.goto("/contacts")  # never kept: the worker's own page, in Romanian
    assert tab.locator("h1").inner_text() == "Sunteți offline"
    assert tab.locator("html").get_attribute("lang") == "ro"
    assert tab.get_by_role("link", name="Carduri recente").is_visible()
    tab.context.set_offline(False)
