"""``?sort=`` orders the card list by another column; cards without a value come last."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def product(admin):
    return admin.product("sales")


def walk(api: Any, product: dict, sort: str, limit: int = 50, **params: Any) -> list[str]:
    """Every card's title, page after page, in the order ``sort`` gives."""
    seen, cursor = [], None
    while True:
        query = {"sort": sort, "limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        page = api.ok("GET", f"products/{product['id']}/cards", query_string=query)
        assert len(page["items"]) <= limit
        seen += [card["title"] for card in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_sorting_by_title_ignores_case_and_reverses_with_a_minus(admin, product):
    for title in ("banana", "Apple", "cherry", "apricot"):
        admin.card(product, title)
    assert walk(admin, product, "title") == ["Apple", "apricot", "banana", "cherry"]
    assert walk(admin, product, "-title") == ["cherry", "banana", "apricot", "Apple"]
    assert walk(admin, product, "title", limit=1) == ["Apple", "apricot", "banana", "cherry"]


def test_sorting_by_a_money_field_compares_amounts_and_puts_cards_without_one_last(admin, product):
    admin.card(product, "none 1")
    admin.card(product, "nine hundred", fields={"value": "900"})
    admin.card(product, "twelve fifty", fields={"value": "1250.50"})
    admin.card(product, "none 2")
    admin.card(product, "eighty", fields={"value": "80"})
    admin.card(product, "also nine hundred", fields={"value": "900.00"})
    expected = ["eighty", "nine hundred", "also nine hundred", "twelve fifty", "none 1", "none 2"]
    assert walk(admin, product, "field.value") == expected
    assert walk(admin, product, "field.value", limit=2) == expected
    reverse = ["twelve fifty", "also nine hundred", "nine hundred", "eighty", "none 2", "none 1"]
    assert walk(admin, product, "-field.value", limit=2) == reverse


def test_sorting_by_status_follows_the_products_status_order(admin, product):
    statuses = {status["name"]: status["id"] for status in product["statuses"]}
    admin.card(product, "won", status_id=statuses["Won"])
    admin.card(product, "new", status_id=product["statuses"][0]["id"])
    admin.card(product, "lost", status_id=statuses["Lost"])
    assert walk(admin, product, "status") == ["new", "won", "lost"]
    assert walk(admin, product, "-status", limit=1) == ["lost", "won", "new"]


def test_sorting_by_owner_uses_names_and_unowned_cards_come_last(admin, product, new_user):
    zoe = new_user("zoe@example.com")
    bob = new_user("bob@example.com")
    admin.card(product, "nobody's", owner_id=None)
    admin.card(product, "zoe's", owner_id=zoe.user.id)
    admin.card(product, "bob's", owner_id=bob.user.id)
    admin.card(product, "admin's", owner_id=admin.user.id)
    assert walk(admin, product, "owner") == ["admin's", "bob's", "zoe's", "nobody's"]
    assert walk(admin, product, "-owner", limit=3) == ["zoe's", "bob's", "admin's", "nobody's"]


def test_sorting_by_next_task_descending_and_by_last_update(admin, product):
    early = admin.card(product, "early")
    late = admin.card(product, "late")
    admin.card(product, "no task")
    admin.task(early, "2026-12-01T10:00:00Z")
    admin.task(late, "2026-12-20T10:00:00Z")
    assert walk(admin, product, "-next_task") == ["late", "early", "no task"]
    assert walk(admin, product, "next_task") == ["early", "late", "no task"]  # the default
    admin.patch(f"cards/{early['id']}", {"title": "early (edited)"})
    assert walk(admin, product, "-updated")[0] == "early (edited)"
    assert walk(admin, product, "updated")[-1] == "early (edited)"


def test_a_sort_combines_with_filters_and_with_what_a_member_may_see(admin, product, new_user):
    limited = new_user("limited@example.com")
    admin.grant(product, limited, own_cards_only=True)
    admin.card(product, "b mine", owner_id=limited.user.id)
    admin.card(product, "a someone else's", owner_id=admin.user.id)
    admin.card(product, "c mine", owner_id=limited.user.id)
    admin.card(product, "a nobody's", owner_id=None)
    assert walk(limited, product, "title") == ["a nobody's", "b mine", "c mine"]
    assert walk(admin, product, "-title", q="mine") == ["c mine", "b mine"]


@pytest.mark.parametrize(
    "sort,message",
    [
        ("colour", "Not a sort"),
        ("field.nope", "no field 'nope'"),
        ("--title", "Not a sort"),
    ],
)
def test_a_bad_sort_is_a_422_naming_it(admin, product, sort, message):
    answer = admin.get(f"products/{product['id']}/cards", query_string={"sort": sort})
    assert answer.status_code == 422
    assert message in " ".join(answer.get_json()["errors"]["sort"])


def test_a_field_without_an_order_cannot_sort_and_a_cursor_keeps_to_its_sort(admin):
    recruiting = admin.product("recruiting")
    answer = admin.get(f"products/{recruiting['id']}/cards", query_string={"sort": "field.skills"})
    assert answer.status_code == 422
    for index in range(3):
        admin.card(recruiting, f"card {index}", fields={"position": "Tester"})
    page = admin.ok(
        "GET", f"products/{recruiting['id']}/cards", query_string={"sort": "title", "limit": 1}
    )
    for other in ("-title", "next_task"):
        answer = admin.get(
            f"products/{recruiting['id']}/cards",
            query_string={"sort": other, "cursor": page["next_cursor"]},
        )
        assert answer.status_code == 422
        assert "cursor" in answer.get_json()["errors"]
