"""Quick access: favourite filters, recently opened cards and the Wall of Progress."""

import pytest
from cardcrm.common.db import get_db
from cardcrm.core.auth.models import User
from cardcrm.core.cards.models import Card
from cardcrm.core.quick_access.models import RecentCard
from cardcrm.core.quick_access.service import note_card_opened
from sqlalchemy import select


def test_a_favourite_filter_is_saved_validated_and_applies_like_the_card_list(admin, member):
    product = admin.product("sales")
    admin.grant(product, member)
    admin.card(product, "ACME", fields={"source": "Referral"}, owner_id=member.user.id)
    admin.card(product, "Globex", fields={"source": "Website"})
    saved = member.ok(
        "POST",
        "favorites",
        {
            "name": "My referrals",
            "product_id": product["id"],
            "query": {"field.source": "Referral", "owner_id": member.user.id, "closed": False},
        },
        status=201,
    )
    assert saved["query"] == {
        "field.source": "Referral",
        "owner_id": str(member.user.id),
        "closed": "false",
    }
    listed = member.ok("GET", "favorites")["items"]
    assert [favorite["name"] for favorite in listed] == ["My referrals"]
    cards = member.ok("GET", listed[0]["url"])["items"]
    assert [card["title"] for card in cards] == ["ACME"]
    assert admin.ok("GET", "favorites")["items"] == []  # favourites are per user


def test_bad_favourites_are_refused(admin):
    product = admin.product("sales")
    other = admin.product("invoices")
    for query in (
        {"colour": "red"},
        {"field.nope": "x"},
        {"status_id": other["statuses"][0]["id"]},
        {"group": "limbo"},
        {"closed": "maybe"},
        {"q": ["a", "b"]},
    ):
        response = admin.post(
            "favorites", {"name": "bad", "product_id": product["id"], "query": query}
        )
        assert response.status_code == 422, (query, response.get_json())
    assert (
        admin.post("favorites", {"name": "x", "product_id": 9999, "query": {}}).status_code == 404
    )
    assert admin.post("favorites", {"product_id": product["id"]}).status_code == 422
    assert admin.ok("GET", "favorites")["items"] == []


def test_favourites_are_deleted_by_their_owner_only(admin, member):
    product = admin.product("sales")
    admin.grant(product, member)
    favorite = member.ok(
        "POST", "favorites", {"name": "All", "product_id": product["id"]}, status=201
    )
    assert admin.delete(f"favorites/{favorite['id']}").status_code == 404
    assert member.delete(f"favorites/{favorite['id']}").status_code == 204
    assert member.ok("GET", "favorites")["items"] == []


def test_recent_cards_are_the_last_20_distinct_newest_first(admin):
    product = admin.product("sales")
    cards = [admin.card(product, f"card {index}") for index in range(25)]
    for card in cards:
        admin.ok("GET", f"cards/{card['id']}")
    admin.ok("GET", f"cards/{cards[3]['id']}")  # opened again: moves to the front
    recent = [card["title"] for card in admin.ok("GET", "recent")["items"]]
    assert len(recent) == 20
    assert recent[0] == "card 3"
    assert recent[1:] == [f"card {index}" for index in range(24, 5, -1)]
    assert len(set(recent)) == 20


def test_a_cards_mark_commits_without_waiting_for_the_disk_in_its_own_transaction_only(app, admin):
    """On PostgreSQL a request's card read records the card in one statement that turns
    ``synchronous_commit`` off for its own transaction: the connection's next transactions
    (a card's or a task's write) wait for the disk again."""
    card = admin.card(admin.product("sales"), "Opened")
    with app.app_context():
        database = get_db()
        if database.dialect != "postgresql":
            pytest.skip("SQLite has no asynchronous commit: its mark is an ordinary write")
        session = database.request_session()
        try:
            connection = session.connection()
            before = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            user = session.get(User, admin.user.id)
            note_card_opened(session, user, session.get(Card, card["id"]))
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == before
            assert before == "on"
            opened = session.scalars(
                select(RecentCard.card_id).where(RecentCard.user_id == admin.user.id)
            ).all()
            assert opened == [card["id"]]
        finally:
            session.close()


def test_recent_cards_are_per_user_and_skip_the_trash(admin, member):
    product = admin.product("sales")
    admin.grant(product, member)
    first, second = admin.card(product, "first"), admin.card(product, "second")
    member.ok("GET", f"cards/{first['id']}")
    member.ok("GET", f"cards/{second['id']}")
    admin.delete(f"cards/{second['id']}")
    assert [card["title"] for card in member.ok("GET", "recent")["items"]] == ["first"]
    assert admin.ok("GET", "recent")["items"] == []


def test_the_wall_shows_cards_won_and_tasks_done_newest_first(admin, member):
    product = admin.product("sales")
    admin.grant(product, member)
    won = next(status for status in product["statuses"] if status["name"] == "Won")
    lost = next(status for status in product["statuses"] if status["name"] == "Lost")
    deal = admin.card(product, "Big deal")
    other = admin.card(product, "Lost deal")
    task = member.task(deal, "2026-12-01T10:00:00Z", "Send contract")
    cancelled = member.task(deal, "2026-12-01T10:00:00Z", "Cancelled call")
    member.ok("POST", f"tasks/{task['id']}/close", {})
    member.ok("POST", f"tasks/{cancelled['id']}/close", {"outcome": "cancelled"})
    admin.ok("PATCH", f"cards/{deal['id']}", {"status_id": won["id"]})
    admin.ok("PATCH", f"cards/{other['id']}", {"status_id": lost["id"]})
    items = member.ok("GET", "wall")["items"]
    assert [(item["type"], item["card"]["title"]) for item in items] == [
        ("card.status_changed", "Big deal"),
        ("task.closed", "Big deal"),
    ]
    assert items[0]["user_id"] == admin.user.id and items[0]["data"]["to"]["name"] == "Won"
    assert items[1]["user_id"] == member.user.id
    page = member.ok("GET", "wall?limit=1")
    assert len(page["items"]) == 1
    rest = member.ok("GET", f"wall?limit=1&cursor={page['next_cursor']}")
    assert rest["items"][0]["type"] == "task.closed"
