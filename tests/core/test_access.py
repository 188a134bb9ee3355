"""Who sees what: admins everything, members their products, limited members their own cards.

Every endpoint that shows a card is asked as an anonymous caller, an outsider (no membership),
a member, a member limited to own cards, and an admin. A card out of sight is a 404.
"""

import pytest


@pytest.fixture
def world(admin, member, new_user):
    limited = new_user("limited@example.com")
    outsider = new_user("outsider@example.com")
    product = admin.product("sales")
    admin.grant(product, member)
    admin.grant(product, limited, own_cards_only=True)
    contact = admin.ok("POST", "contacts", {"name": "Ana"}, status=201)
    cards = {
        "own": admin.card(
            product, "limited's own", owner_id=limited.user.id, contact_id=contact["id"]
        ),
        "unowned": admin.card(product, "nobody's", contact_id=contact["id"]),
        "other": admin.card(product, "member's", owner_id=member.user.id, contact_id=contact["id"]),
    }
    tasks = {}
    for key, card in cards.items():
        # Every task is the limited member's, so visibility is decided by the card alone.
        tasks[key] = admin.task(
            card, "2026-12-01T10:00:00Z", f"task on {key}", assignee_id=limited.user.id
        )
        admin.ok("POST", f"tasks/{tasks[key]['id']}/close", {})
        tasks[key] = admin.task(
            card, "2026-12-01T11:00:00Z", f"open task on {key}", assignee_id=limited.user.id
        )
    won = next(status for status in product["statuses"] if status["group"] == "positive")
    for card in cards.values():
        admin.ok("PATCH", f"cards/{card['id']}", {"status_id": won["id"]})
    users = {"admin": admin, "member": member, "limited": limited, "outsider": outsider}
    return {"product": product, "cards": cards, "tasks": tasks, "users": users, "contact": contact}


SEES = {
    "admin": {"own", "unowned", "other"},
    "member": {"own", "unowned", "other"},
    "limited": {"own", "unowned"},
    "outsider": set(),
}


def card_keys(world, titles):
    by_title = {card["title"]: key for key, card in world["cards"].items()}
    return {by_title[title] for title in titles if title in by_title}


@pytest.mark.parametrize("who", list(SEES))
def test_card_lists_pages_tasks_and_history_follow_the_rule(world, who):
    api, product = world["users"][who], world["product"]
    listed = api.get(f"products/{product['id']}/cards")
    if who == "outsider":
        assert listed.status_code == 404
        assert api.ok("GET", "products")["items"] == []
        assert api.get(f"products/{product['id']}").status_code == 404
    else:
        titles = [card["title"] for card in listed.get_json()["items"]]
        assert card_keys(world, titles) == SEES[who]
        assert [item["id"] for item in api.ok("GET", "products")["items"]] == [product["id"]]
    for key, card in world["cards"].items():
        visible = key in SEES[who]
        expected = 200 if visible else 404
        for path in (
            f"cards/{card['id']}",
            f"cards/{card['id']}/history",
            f"cards/{card['id']}/tasks",
            f"tasks/{world['tasks'][key]['id']}",
        ):
            assert api.get(path).status_code == expected, (who, path)
        for method, path, body in (
            ("PATCH", f"cards/{card['id']}", {"title": card["title"]}),
            ("POST", f"cards/{card['id']}/tasks", {"text": "x", "due": "2026-12-02T10:00:00Z"}),
            (
                "POST",
                f"tasks/{world['tasks'][key]['id']}/postpone",
                {"due": "2026-12-05T10:00:00Z"},
            ),
        ):
            status = api.request(method, path, json=body).status_code
            assert (status < 400) == visible and (visible or status == 404), (
                who,
                method,
                path,
                status,
            )


@pytest.mark.parametrize("who", list(SEES))
def test_today_wall_recent_and_contacts_follow_the_rule(world, who):
    api = world["users"][who]
    if who == "limited":
        texts = {
            task["text"] for task in api.ok("GET", "today?from=2026-12-01&to=2026-12-31")["tasks"]
        }
        assert texts == {"open task on own", "open task on unowned"}
    wall = api.ok("GET", "wall?limit=100")["items"]
    assert {item["card"]["title"] for item in wall} == {
        world["cards"][key]["title"] for key in SEES[who]
    }
    grouped = api.ok("GET", f"contacts/{world['contact']['id']}/cards")["items"]
    titles = [card["title"] for group in grouped for card in group["cards"]]
    assert card_keys(world, titles) == SEES[who]


def test_a_limited_member_counts_only_visible_tasks_in_today(world):
    limited = world["users"]["limited"]
    totals = limited.ok("GET", "today?from=2026-12-02&to=2026-12-02")["totals"]
    assert totals["overdue"] == 2  # the task on the member's card is out of sight


def test_recent_cards_drop_a_card_when_access_is_lost(world, admin):
    member, product = world["users"]["member"], world["product"]
    card = world["cards"]["other"]
    member.ok("GET", f"cards/{card['id']}")
    assert [item["id"] for item in member.ok("GET", "recent")["items"]] == [card["id"]]
    admin.ok("PUT", f"products/{product['id']}/members", {"items": []})
    assert member.ok("GET", "recent")["items"] == []
    assert member.get(f"cards/{card['id']}").status_code == 404


def test_favourites_need_a_visible_product(world):
    outsider, member, product = (
        world["users"]["outsider"],
        world["users"]["member"],
        world["product"],
    )
    body = {"name": "Mine", "product_id": product["id"], "query": {}}
    assert outsider.post("favorites", body).status_code == 404
    assert member.post("favorites", body).status_code == 201


def test_a_limited_member_may_not_hand_a_card_out_of_sight(world):
    limited, product = world["users"]["limited"], world["product"]
    mine = limited.card(product, "made by limited", owner_id=limited.user.id)
    assert (
        limited.post(
            f"products/{product['id']}/cards",
            {"title": "x", "owner_id": world["users"]["member"].user.id},
        ).status_code
        == 403
    )
    assert (
        limited.patch(
            f"cards/{mine['id']}", {"owner_id": world["users"]["member"].user.id}
        ).status_code
        == 403
    )


def test_anonymous_callers_get_401_everywhere(world, anonymous):
    card, task = world["cards"]["own"], world["tasks"]["own"]
    for path in (
        "products",
        f"products/{world['product']['id']}/cards",
        f"cards/{card['id']}",
        f"tasks/{task['id']}",
        "today",
        "wall",
        "recent",
        "favorites",
        "contacts",
    ):
        assert anonymous.get(path).status_code == 401, path


def test_members_are_managed_by_admins(world, admin):
    member, product = world["users"]["member"], world["product"]
    assert member.get(f"products/{product['id']}/members").status_code == 403
    items = admin.ok("GET", f"products/{product['id']}/members")["items"]
    assert {(item["user_id"], item["own_cards_only"]) for item in items} == {
        (member.user.id, False),
        (world["users"]["limited"].user.id, True),
    }
    bad = admin.put(f"products/{product['id']}/members", {"items": [{"user_id": 9999}]})
    assert bad.status_code == 422


def test_a_write_follows_the_memberships_of_that_moment(world, admin):
    """The memberships are read with the caller's token on every request, so a change to
    them counts at the member's very next write."""
    member, product = world["users"]["member"], world["product"]
    card = world["cards"]["other"]  # the member's own card
    unowned = world["cards"]["unowned"]
    edited = member.ok("PATCH", f"cards/{unowned['id']}", {"title": "Edited"})
    members = f"products/{product['id']}/members"
    limited = world["users"]["limited"].user.id
    admin.ok(
        "PUT",
        members,
        {
            "items": [
                {"user_id": member.user.id, "own_cards_only": True},
                {"user_id": limited, "own_cards_only": True},
            ]
        },
    )
    # An unowned card stays in a limited member's sight; someone else's does not.
    assert member.patch(f"cards/{unowned['id']}", {"title": "Again"}).status_code == 200
    limited_out = admin.card(product, "admin's", owner_id=admin.user.id)
    assert member.patch(f"cards/{limited_out['id']}", {"title": "No"}).status_code == 404
    admin.ok("PUT", members, {"items": []})
    assert member.patch(f"cards/{card['id']}", {"title": "Gone"}).status_code == 404
    assert member.post(f"products/{product['id']}/cards", {"title": "x"}).status_code == 404
    assert admin.ok("GET", f"cards/{unowned['id']}")["title"] == "Again"
    assert admin.ok("GET", f"cards/{unowned['id']}")["version"] == edited["version"] + 1
