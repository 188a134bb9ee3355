"""The board and the card list as pages: column totals, cards' details, moves with the card's
version, and the list's sortable columns (the browser's drag and drop: test_browser_board.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cardcrm.core.web import board as board_data
from cardcrm.core.web import products as product_pages
from sqlalchemy import event

from ..conftest import get_db_from


@pytest.fixture
def sales(admin):
    product = admin.product("sales", name="Sales")
    return product


def status_id(product: dict, name: str) -> int:
    return next(status["id"] for status in product["statuses"] if status["name"] == name)


def column(html: str, status: int) -> str:
    """The HTML of one board column."""
    start = html.index(f'data-status-id="{status}"')
    end = html.find("<section", start)
    return html[start : end if end > 0 else len(html)]


def board(web: Any, product: dict) -> str:
    answer = web.get(f"/products/{product['id']}/board")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_each_column_counts_its_cards_and_sums_their_value(admin_web, admin, sales):
    first = sales["statuses"][0]["id"]
    won = status_id(sales, "Won")
    admin.card(sales, "Big deal", fields={"value": "12000"})
    admin.card(sales, "Small deal", fields={"value": "500.50"})
    admin.card(sales, "No value yet")
    admin.card(sales, "Closed deal", fields={"value": "99"}, status_id=won)
    html = board(admin_web, sales)
    assert 'data-count="3">3 cards' in column(html, first)
    assert "€12,500.50" in column(html, first)
    assert 'data-count="1">1 card<' in column(html, won) and "€99" in column(html, won)
    assert 'data-count="0">0 cards' in column(html, status_id(sales, "Lost"))
    assert "€500.50" in column(html, first)  # the card's own value


def test_a_product_without_a_money_field_shows_counts_only(admin_web, admin):
    product = admin.product(
        None,
        name="Plain",
        statuses=[{"name": "Open", "group": "inactive"}, {"name": "Done", "group": "positive"}],
        fields=[{"key": "note", "label": "Note", "type": "text"}],
    )
    admin.card(product, "Something", fields={"note": "remember"})
    html = board(admin_web, product)
    assert "3 cards" not in html and "1 card<" in html
    assert "data-sum" not in html
    assert "remember" in html  # a key field on the card


def test_a_column_shows_its_first_cards_and_links_to_the_rest(admin_web, admin, sales, monkeypatch):
    monkeypatch.setattr(product_pages, "BOARD_COLUMN", 3)
    for index in range(5):
        admin.card(sales, f"Deal {index}")
    html = column(board(admin_web, sales), sales["statuses"][0]["id"])
    assert len(re.findall(r'<li class="board-card[ "]', html)) == 3
    more = re.search(r'<a class="column-more" href="([^"]+)">2 more in', html)
    assert more, html
    assert more.group(1) == f"/products/{sales['id']}?status_id={sales['statuses'][0]['id']}"


def test_the_board_runs_the_same_number_of_queries_for_few_or_many_cards(
    app, admin_web, admin, sales, monkeypatch
):
    monkeypatch.setattr(product_pages, "BOARD_COLUMN", 4)
    engine = get_db_from(app).engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        if re.search(r"FROM (cards|tasks|card_contacts)\b", args[2]):  # not the session's own
            statements.append(args[2])

    def queries_of_the_board() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            board(admin_web, sales)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    card = admin.card(sales, "First", owner_id=admin.user.id)
    admin.task(card, "2026-12-01T10:00:00Z")
    few = queries_of_the_board()
    for index in range(12):
        card = admin.card(sales, f"Deal {index}", owner_id=admin.user.id, fields={"value": "10"})
        admin.task(card, f"2026-12-{index + 2:02d}T10:00:00Z")
    many = queries_of_the_board()
    # Per column at most its two parts (cards with a task, then without) and their contacts;
    # then the totals and the next tasks, one query each for the whole board.
    assert many <= few <= 3 * len(sales["statuses"]) + 2


def test_cards_show_their_owner_and_next_task_and_are_marked_overdue_once_it_has_passed(
    admin_web, admin, sales
):
    late = admin.card(sales, "Late deal", owner_id=admin.user.id)
    admin.task(late, (datetime.now(UTC) - timedelta(hours=1)).isoformat())
    today = admin.card(sales, "Due today")
    admin.task(today, datetime.now(UTC).date().isoformat(), all_day=True)
    html = board(admin_web, sales)
    late_card = html[html.index('id="board-card-' + str(late["id"])) :]
    late_card = late_card[: late_card.index("</li>")]
    assert 'class="due-chip is-overdue"' in late_card and "Overdue: " in late_card
    assert ">AD</span>" in late_card  # the owner's initials (Admin)
    today_card = html[html.index('id="board-card-' + str(today["id"])) :]
    today_card = today_card[: today_card.index("</li>")]
    assert "is-overdue" not in today_card  # an all-day task is late once its day has ended
    assert ">Today</span>" in today_card and "No owner" in today_card


def test_a_move_with_the_cards_version_is_saved_and_the_board_comes_back_updated(
    admin_web, admin, sales
):
    card = admin.card(sales, "Moving deal", fields={"value": "300"})
    lead = status_id(sales, "Lead")
    answer = admin_web.htmx(
        f"/cards/{card['id']}/move", {"status_id": str(lead), "version": str(card["version"])}
    )
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert f'id="board-card-{card["id"]}"' in column(html, lead)
    assert 'data-count="1">1 card<' in column(html, lead) and "€300" in column(html, lead)
    assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == lead


def test_a_move_with_a_stale_version_is_refused_and_the_card_stays_where_it_is(
    admin_web, admin, sales
):
    card = admin.card(sales, "Contested deal")
    admin.patch(f"cards/{card['id']}", {"title": "Contested deal (renamed)"})
    lead = status_id(sales, "Lead")
    answer = admin_web.htmx(
        f"/cards/{card['id']}/move", {"status_id": str(lead), "version": str(card["version"])}
    )
    assert answer.status_code == 412
    html = answer.get_data(as_text=True)
    home = column(html, card["status_id"])
    assert f'id="board-card-{card["id"]}"' in home
    assert "Someone else changed this card meanwhile" in home
    assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == card["status_id"]

    without_js = admin_web.post(
        f"/cards/{card['id']}/move", {"status_id": str(lead), "version": str(card["version"])}
    )
    assert without_js.status_code == 302
    assert "Someone else changed this card" in admin_web.get(
        without_js.headers["Location"]
    ).get_data(as_text=True)


def test_a_plugins_veto_is_shown_on_the_card_in_its_column(admin_web, admin):
    invoices = admin.product("invoices")
    card = admin.card(invoices, "Invoice 9")
    paid = status_id(invoices, "Sent")
    answer = admin_web.htmx(
        f"/cards/{card['id']}/move", {"status_id": str(paid), "version": str(card["version"])}
    )
    assert answer.status_code == 422
    home = column(answer.get_data(as_text=True), card["status_id"])
    card_html = home[home.index(f'id="board-card-{card["id"]}"') :]
    card_html = card_html[: card_html.index("</li>")]
    assert "An invoice needs an amount before it is sent." in card_html
    assert 'role="alert"' in card_html


# --- the card list ----------------------------------------------------------------------------


def titles(html: str) -> list[str]:
    body = html[html.index('<tbody id="cards">') : html.index("</tbody>")]
    return re.findall(r'<td class="card-title"><a href="/cards/\d+">([^<]+)</a>', body)


def test_the_card_list_sorts_by_a_column_named_in_the_url(admin_web, admin, sales):
    admin.card(sales, "Beta", fields={"value": "10"})
    admin.card(sales, "alpha", fields={"value": "2000"})
    admin.card(sales, "Gamma")
    path = f"/products/{sales['id']}"
    assert titles(admin_web.get(f"{path}?sort=title").get_data(as_text=True)) == [
        "alpha",
        "Beta",
        "Gamma",
    ]
    html = admin_web.get(f"{path}?sort=-field.value").get_data(as_text=True)
    assert titles(html) == ["alpha", "Beta", "Gamma"]
    assert '<th scope="col" aria-sort="descending"' in html
    assert 'href="?sort=field.value"' in html  # its header now sorts the other way
    assert "Deal value" in html and "Expected close date" in html and "Source" in html


def test_a_bad_sort_is_reported_and_the_list_keeps_its_default_order(admin_web, admin, sales):
    admin.card(sales, "Only card")
    answer = admin_web.get(f"/products/{sales['id']}?sort=field.nope")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "The product has no field" in html and titles(html) == ["Only card"]


def test_key_fields_sort_only_in_products_with_few_enough_cards(
    admin_web, admin, sales, monkeypatch
):
    admin.card(sales, "One")
    admin.card(sales, "Two")
    path = f"/products/{sales['id']}"
    assert 'data-sort="field.value"' in admin_web.get(path).get_data(as_text=True)
    monkeypatch.setattr(board_data, "FIELD_SORT_LIMIT", 1)
    html = admin_web.get(path).get_data(as_text=True)
    assert 'data-sort="field.value"' not in html and "Deal value</th>" in html
    assert 'data-sort="title"' in html  # the card's own columns always sort
