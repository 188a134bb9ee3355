"""Every list page says why it is empty and offers the next step: an icon, one sentence and
one action link, on a fresh install (the look of them: test_browser_tour.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

SPRITE = Path(__file__).resolve().parents[2] / "services/core/web/static/icons.svg"
EMPTY_STATE = re.compile(r'<div class="empty empty-state">(.*?)</div>', re.S)
ACTION = re.compile(
    r'<a class="button-link primary" href="([^"]*)">.*?<span>([^<]*)</span></a>', re.S
)


def empty_state(html: str) -> tuple[str, str, str]:
    """The one empty state on the page: its sentence, its action's address and its label."""
    found = EMPTY_STATE.findall(html)
    assert len(found) == 1, found
    block = found[0]
    assert 'class="icon empty-icon" aria-hidden="true"' in block  # the icon is decoration
    sentence = re.search(r"<p>(.*?)</p>", block, re.S)
    action = ACTION.search(block)
    assert sentence and action, block
    return sentence.group(1).strip(), action.group(1), action.group(2)


def page(web: Any, path: str) -> str:
    answer = web.get(path)
    assert answer.status_code == 200, path
    return answer.get_data(as_text=True)


@pytest.fixture
def sales(admin: Any) -> dict:
    return admin.product("sales", name="Sales")


def test_a_new_product_offers_its_first_card_from_the_list_and_the_board(admin_web, sales):
    listing = page(admin_web, f"/products/{sales['id']}")
    assert empty_state(listing) == ("No card in Sales yet.", "#new-card", "Create the first card")
    assert 'id="new-card"' in listing  # the form the action leads to
    new_card = f'href="/products/{sales["id"]}#new-card"'
    assert new_card in listing  # "New card" at the top, as Pipedrive's "+ Deal"
    board = page(admin_web, f"/products/{sales['id']}/board")
    assert new_card in board
    empty_columns = re.findall(r'<li class="empty-column">.*?</li>', board, re.S)
    assert len(empty_columns) == len(sales["statuses"])
    assert all(new_card in column and "Add a card" in column for column in empty_columns)


def test_a_filter_that_matches_nothing_offers_all_the_cards(admin_web, admin, sales):
    admin.card(sales, "Globex renewal")
    html = page(admin_web, f"/products/{sales['id']}?q=zzzz")
    assert empty_state(html) == ("No card matches.", f"/products/{sales['id']}", "Show all cards")


def test_no_product_yet_offers_to_create_one(admin_web):
    html = page(admin_web, "/products")
    assert empty_state(html) == ("No product yet.", "#new-product", "Create the first product")
    assert 'id="new-product"' in html


def test_a_member_without_products_is_told_whom_to_ask_and_gets_no_dead_link(member_web):
    html = page(member_web, "/products")
    sentence = EMPTY_STATE.search(html)
    assert sentence and "Ask an admin to create one." in sentence.group(1)
    assert "Create the first product" not in html


@pytest.mark.parametrize(
    ("path", "sentence", "href", "label"),
    [
        ("/contacts", "No contact matches.", "#new", "Add a contact"),
        ("/wall", "No results yet: close a task or win a card.", "/", "Go to today’s tasks"),
        ("/recent", "You have not opened a card yet.", "/products", "Open a product"),
        ("/reports", "No products to report on yet.", "/products", "Go to the products"),
        (
            "/",
            "Nothing due and nothing overdue in this period.",
            "/products",
            "Add a task to a card",
        ),
    ],
)
def test_an_empty_list_says_so_and_offers_the_next_step(admin_web, path, sentence, href, label):
    assert empty_state(page(admin_web, path)) == (sentence, href, label)


def test_a_search_that_finds_nothing_offers_a_way_on(admin_web):
    html = page(admin_web, "/search?q=zzzz")
    states = EMPTY_STATE.findall(html)
    assert len(states) == 2  # no card and no contact
    assert "No card you may see holds “zzzz”." in states[0]
    assert 'href="/products"' in states[0] and "Browse the products" in states[0]
    assert "No contact matches “zzzz”." in states[1]
    assert 'href="/contacts#new"' in states[1] and "Add a contact" in states[1]


def test_an_empty_trash_leads_back_to_the_cards(admin_web, sales):
    sentence, href, label = empty_state(page(admin_web, f"/products/{sales['id']}/trash"))
    assert sentence.startswith("The trash is empty.")
    assert (href, label) == (f"/products/{sales['id']}", "Back to the cards")


def test_every_icon_a_page_draws_is_in_the_sprite(admin_web, sales):
    sprite = SPRITE.read_text()
    html = "".join(
        page(admin_web, path) for path in ("/", f"/products/{sales['id']}/board", "/users")
    )
    used = set(re.findall(r'icons\.svg#(i-[a-z0-9-]+)"', html))
    assert {"i-calendar-check", "i-package", "i-users", "i-chart-column", "i-circle-help"} <= used
    assert all(f'<symbol id="{name}"' in sprite for name in used), used
    nav = re.search(r'<nav class="main-nav".*?</nav>', html, re.S)
    assert nav and nav.group(0).count('aria-hidden="true"') == 6  # decoration beside each name
    for name in ("Today", "Products", "Contacts", "Wall", "Reports", "Help"):
        assert f"<span>{name}</span>" in nav.group(0)  # the text stays


def test_the_users_table_names_each_cell_for_the_phone_layout(admin_web):
    html = page(admin_web, "/users")
    assert 'class="list stack-narrow users-table"' in html
    for label in ("Name", "E-mail", "Time zone", "Admin"):
        assert f'data-label="{label}"' in html
