"""Cards are listed by their next open task's deadline, cards with none last (DESIGN.md §1)."""

import pytest


def titles(api, product, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return [
        card["title"] for card in api.ok("GET", f"products/{product['id']}/cards?{query}")["items"]
    ]


def card_due(api, card):
    return api.ok("GET", f"cards/{card['id']}")["next_task_due"]


@pytest.fixture
def product(admin):
    return admin.product("sales")


def test_cards_are_ordered_by_their_next_open_deadline(admin, product):
    late = admin.card(product, "late")
    early = admin.card(product, "early")
    middle = admin.card(product, "middle")
    admin.task(late, "2026-12-10T10:00:00Z")
    admin.task(early, "2026-12-01T10:00:00Z")
    admin.task(middle, "2026-12-05T10:00:00Z")
    admin.task(late, "2026-12-20T10:00:00Z")
    assert titles(admin, product) == ["early", "middle", "late"]


def test_ties_are_broken_by_card_id_and_cards_without_tasks_come_last_newest_update_first(
    admin, product
):
    no_task_old = admin.card(product, "no task, old")
    tie_b = admin.card(product, "tie b")
    tie_a = admin.card(product, "tie a")
    admin.card(product, "no task, new")
    admin.task(tie_b, "2026-12-01T10:00:00+01:00")
    admin.task(tie_a, "2026-12-01T09:00:00Z")  # the same instant
    admin.patch(f"cards/{no_task_old['id']}", {"title": "no task, old (edited)"})
    assert titles(admin, product) == ["tie b", "tie a", "no task, old (edited)", "no task, new"]
    assert tie_b["id"] < tie_a["id"]


def test_pagination_walks_both_parts_of_the_order_without_gaps(admin, product):
    expected = []
    for index in range(7):
        card = admin.card(product, f"due {index}")
        admin.task(card, f"2026-12-{index + 1:02d}T10:00:00Z")
        expected.append(f"due {index}")
    rest = [admin.card(product, f"none {index}")["title"] for index in range(6)]
    expected += list(reversed(rest))
    seen, cursor = [], None
    while True:
        path = f"products/{product['id']}/cards?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = admin.ok("GET", path)
        assert len(page["items"]) <= 4
        seen += [card["title"] for card in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


def test_a_page_ending_with_the_last_card_with_a_task_goes_on_with_the_first_without(
    admin, product
):
    for index in range(4):
        admin.task(admin.card(product, f"due {index}"), f"2026-12-{index + 1:02d}T10:00:00Z")
    admin.card(product, "none 0")
    admin.card(product, "none 1")
    first = admin.ok("GET", f"products/{product['id']}/cards?limit=4")
    assert [card["title"] for card in first["items"]] == [f"due {index}" for index in range(4)]
    path = f"products/{product['id']}/cards?limit=4&cursor={first['next_cursor']}"
    second = admin.ok("GET", path)
    assert [card["title"] for card in second["items"]] == ["none 1", "none 0"]
    assert second["next_cursor"] is None


def test_each_task_action_updates_next_task_due(admin, product):
    card = admin.card(product)
    assert card["next_task_due"] is None
    first = admin.task(card, "2026-12-05T10:00:00Z")
    assert card_due(admin, card) == "2026-12-05T10:00:00Z"
    second = admin.task(card, "2026-12-03T10:00:00Z")
    assert card_due(admin, card) == "2026-12-03T10:00:00Z"

    admin.ok("POST", f"tasks/{second['id']}/postpone", {"due": "2026-12-09T10:00:00Z"})
    assert card_due(admin, card) == "2026-12-05T10:00:00Z"

    admin.ok("POST", f"tasks/{first['id']}/close", {})
    assert card_due(admin, card) == "2026-12-09T10:00:00Z"

    admin.ok("POST", f"tasks/{first['id']}/reopen")
    assert card_due(admin, card) == "2026-12-05T10:00:00Z"

    admin.ok("PATCH", f"tasks/{first['id']}", {"due": "2026-12-20T10:00:00Z"})
    assert card_due(admin, card) == "2026-12-09T10:00:00Z"

    admin.ok("POST", f"tasks/{second['id']}/close", {"outcome": "cancelled"})
    assert card_due(admin, card) == "2026-12-20T10:00:00Z"

    assert admin.delete(f"tasks/{first['id']}").status_code == 204
    assert card_due(admin, card) is None


def test_reassigning_a_task_keeps_next_task_due_and_records_it(admin, member, product):
    card = admin.card(product)
    task = admin.task(card, "2026-12-05T10:00:00Z")
    moved = admin.ok("PATCH", f"tasks/{task['id']}", {"assignee_id": member.user.id})
    assert moved["assignee_id"] == member.user.id
    assert card_due(admin, card) == "2026-12-05T10:00:00Z"
    kinds = [row["type"] for row in admin.ok("GET", f"cards/{card['id']}/history")["items"]]
    assert kinds[-1] == "task.reassigned"


def test_postponing_a_task_moves_the_card_down(admin, product):
    first, second = admin.card(product, "first"), admin.card(product, "second")
    task = admin.task(first, "2026-12-01T10:00:00Z")
    admin.task(second, "2026-12-02T10:00:00Z")
    assert titles(admin, product) == ["first", "second"]
    postponed = admin.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-03T10:00:00Z"})
    assert postponed["postponed_count"] == 1
    assert postponed["id"] == task["id"]
    assert titles(admin, product) == ["second", "first"]


def test_postponing_to_an_earlier_deadline_is_a_422(admin, product):
    card = admin.card(product)
    task = admin.task(card, "2026-12-05T10:00:00Z")
    response = admin.post(f"tasks/{task['id']}/postpone", {"due": "2026-12-05T09:00:00Z"})
    assert response.status_code == 422
    assert admin.ok("GET", f"tasks/{task['id']}")["postponed_count"] == 0
    assert card_due(admin, card) == "2026-12-05T10:00:00Z"


def test_all_day_tasks_sort_at_the_start_of_their_day_in_the_assignees_zone(
    new_user, admin, product
):
    tokyo = new_user("tokyo@example.com", timezone="Asia/Tokyo")
    admin.grant(product, tokyo)
    card = admin.card(product)
    task = tokyo.task(card, "2026-12-05", all_day=True)
    assert task["all_day"] is True and task["due_date"] == "2026-12-05"
    assert task["due"] == "2026-12-04T15:00:00Z"
    assert card_due(admin, card) == "2026-12-04T15:00:00Z"


def test_trashed_cards_appear_in_no_list_and_come_back_with_their_tasks(admin, product):
    card = admin.card(product, "gone")
    task = admin.task(card, "2026-12-05T10:00:00Z")
    assert admin.delete(f"cards/{card['id']}").status_code == 204
    assert titles(admin, product) == []
    assert titles(admin, product, trashed="true") == ["gone"]
    assert admin.get(f"tasks/{task['id']}").status_code == 404
    assert (
        admin.post(
            f"cards/{card['id']}/tasks", {"text": "x", "due": "2026-12-06T10:00:00Z"}
        ).status_code
        == 409
    )
    restored = admin.ok("POST", f"cards/{card['id']}/restore")
    assert restored["trashed"] is False
    assert titles(admin, product) == ["gone"]
    assert admin.ok("GET", f"tasks/{task['id']}")["status"] == "open"
    kinds = [row["type"] for row in admin.ok("GET", f"cards/{card['id']}/history")["items"]]
    assert kinds == ["card.created", "task.created", "card.deleted", "card.restored"]


def test_only_admins_purge_the_trash(admin, member, product):
    card = admin.card(product)
    assert admin.delete(f"cards/{card['id']}?purge=true").status_code == 409  # not trashed yet
    admin.delete(f"cards/{card['id']}")
    assert member.delete(f"cards/{card['id']}?purge=true").status_code == 403
    assert admin.delete(f"cards/{card['id']}?purge=true").status_code == 204
    assert admin.get(f"cards/{card['id']}").status_code == 404
