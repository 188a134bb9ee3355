"""Notifications follow core's access rules: nobody is told about a card they may not see.

Memberships reach the service as ``product.members_changed`` events; admins see everything.
"""

from __future__ import annotations

from datetime import timedelta

from .helpers import iso


def assigned_titles(api):
    return [item["title"] for item in api.inbox() if item["rule"] == "assigned"]


def test_an_assignment_on_a_product_i_am_no_member_of_tells_me_nothing_until_i_am(
    admin, member, notifications, worker, clock
):
    product = admin.product("sales")
    card = admin.card(product, "Hidden deal")
    due = iso(clock.now + timedelta(days=1))
    admin.task(card, due, "Out of my sight", assignee_id=member.user.id)
    worker.drain()
    assert assigned_titles(notifications(member)) == []

    admin.grant(product, member)
    admin.task(card, due, "Now in sight", assignee_id=member.user.id)
    worker.drain()
    assert assigned_titles(notifications(member)) == ["Admin assigned you a task: Now in sight"]


def test_a_member_limited_to_own_cards_hears_only_of_their_cards_and_unowned_ones(
    admin, member, notifications, worker, clock
):
    product = admin.product("sales")
    admin.grant(product, member, own_cards_only=True)
    due = iso(clock.now + timedelta(days=1))
    for title, owner in (("admin's", admin.user.id), ("nobody's", None), ("mine", member.user.id)):
        card = admin.card(product, title, owner_id=owner)
        admin.task(card, due, f"Task on {title}", assignee_id=member.user.id)
    worker.drain()
    assert sorted(assigned_titles(notifications(member))) == [
        "Admin assigned you a task: Task on mine",
        "Admin assigned you a task: Task on nobody's",
    ]


def test_admins_hear_of_every_product_without_being_members(
    admin, member, notifications, worker, clock
):
    product = admin.product("sales")
    admin.grant(product, member)
    card = admin.card(product, "Deal")
    member.task(card, iso(clock.now + timedelta(days=1)), "For the boss", assignee_id=admin.user.id)
    worker.drain()
    assert assigned_titles(notifications(admin)) == ["Member assigned you a task: For the boss"]


def test_an_owner_who_lost_sight_of_their_card_is_not_told_it_moved(
    admin, member, notifications, worker
):
    product = admin.product("sales")
    admin.grant(product, member)
    card = admin.card(product, "Deal", owner_id=member.user.id)
    admin.ok("PUT", f"products/{product['id']}/members", {"items": []})
    won = next(status for status in product["statuses"] if status["group"] == "positive")
    admin.patch(f"cards/{card['id']}", {"status_id": won["id"]})
    worker.drain()
    assert notifications(member).inbox() == []
