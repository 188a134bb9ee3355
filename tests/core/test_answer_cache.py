"""Kept answers (``answers.py``): the Today view and the card list are answered again from what
the process kept, yet every change, by any process, and the passing of time show at once.
"""

from __future__ import annotations

from typing import Any

import pytest
from cardcrm.common.db import get_db
from cardcrm.core.auth.models import User
from sqlalchemy import event

from tests.core.test_auth_cache import other_process  # noqa: F401  (a fixture)
from tests.core.test_today import FixedClock


@pytest.fixture
def clock(app):
    fixed = FixedClock("2026-11-30T12:00:00Z")
    app.config["CLOCK"] = fixed
    yield fixed
    app.config.pop("CLOCK", None)


@pytest.fixture
def sales(admin):
    return admin.product("sales")


def today(api, query: str = "") -> dict:
    return api.ok("GET", f"today{query}")


def test_today_shows_a_task_made_since_it_was_last_answered(admin, sales, clock):
    card = admin.card(sales, "ACME")
    assert today(admin)["totals"]["due"] == 0
    assert today(admin)["totals"]["due"] == 0  # answered twice: kept
    admin.task(card, "2026-11-30T15:00:00Z", "Call ACME")
    again = today(admin)
    assert again["totals"]["due"] == 1
    assert [task["text"] for task in again["tasks"]] == ["Call ACME"]


def test_a_deadline_passing_makes_a_kept_task_overdue_with_no_write(admin, sales, clock):
    card = admin.card(sales, "ACME")
    admin.task(card, "2026-11-30T12:30:00Z", "Soon")
    admin.task(card, "2026-11-30T18:00:00Z", "Later")
    before = today(admin)
    assert (before["totals"]["overdue"], before["totals"]["due"]) == (0, 2)
    assert today(admin) == before
    clock.set("2026-11-30T12:31:00Z")
    after = today(admin)
    assert (after["totals"]["overdue"], after["totals"]["due"]) == (1, 1)
    assert [(task["text"], task["overdue"]) for task in after["tasks"]] == [
        ("Soon", True),
        ("Later", False),
    ]


def test_midnight_in_the_users_zone_makes_a_new_day(new_user, admin, sales, clock):
    ana = new_user("ana@example.com", timezone="Europe/Bucharest")
    admin.grant(sales, ana)
    card = admin.card(sales, "ACME")
    # All day tomorrow, Bucharest time (UTC+2): 1 December.
    ana.task(card, "2026-12-01", "Tomorrow", all_day=True)
    first = today(ana)
    assert (first["period"]["from"], first["totals"]["due"]) == ("2026-11-30", 0)
    assert today(ana) == first
    clock.set("2026-11-30T22:05:00Z")  # 00:05 on 1 December in Bucharest
    second = today(ana)
    assert (second["period"]["from"], second["totals"]["due"]) == ("2026-12-01", 1)


def test_an_unchanged_answer_is_a_304_and_a_changed_one_has_a_new_etag(admin, sales, clock):
    card = admin.card(sales, "ACME")
    first = admin.get("today")
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    asked = {"If-None-Match": first.headers["ETag"]}
    unchanged = admin.get("today", headers=asked)
    assert (unchanged.status_code, unchanged.data) == (304, b"")
    assert unchanged.headers["ETag"] == first.headers["ETag"]

    admin.task(card, "2026-11-30T15:00:00Z")
    changed = admin.get("today", headers=asked)
    assert changed.status_code == 200 and changed.get_json()["totals"]["due"] == 1
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_each_caller_gets_their_own_answer(admin, member, sales, clock):
    card = admin.card(sales, "ACME")
    admin.grant(sales, member)
    admin.task(card, "2026-11-30T15:00:00Z", "Admin's call")
    assert today(admin)["totals"]["due"] == 1
    assert today(member)["totals"]["due"] == 0
    listing = admin.ok("GET", f"products/{sales['id']}/cards")
    assert member.ok("GET", f"products/{sales['id']}/cards") == listing
    admin.ok("PUT", f"products/{sales['id']}/members", {"items": []})
    member.ok("GET", f"products/{sales['id']}/cards", status=404)


def test_a_new_time_zone_gives_the_users_day_at_once(member, clock):
    assert today(member)["period"]["from"] == "2026-11-30"
    member.ok("PATCH", "me", {"timezone": "Pacific/Kiritimati"})  # UTC+14: 1 December
    assert today(member)["period"] == {
        "from": "2026-12-01",
        "to": "2026-12-01",
        "timezone": "Pacific/Kiritimati",
    }


def test_the_card_list_shows_a_rename_a_move_and_a_trashing_at_once(admin, sales):
    card = admin.card(sales, "ACME")
    path = f"products/{sales['id']}/cards"
    assert [item["title"] for item in admin.ok("GET", path)["items"]] == ["ACME"]
    renamed = admin.ok("PATCH", f"cards/{card['id']}", {"title": "ACME Ltd"})
    assert [item["title"] for item in admin.ok("GET", path)["items"]] == ["ACME Ltd"]
    last = sales["statuses"][-1]
    admin.ok(
        "PATCH",
        f"cards/{card['id']}",
        {"status_id": last["id"]},
        headers={"If-Match": f'"{renamed["version"]}"'},
    )
    assert admin.ok("GET", path)["items"][0]["status_id"] == last["id"]
    admin.ok("DELETE", f"cards/{card['id']}", status=204)
    assert admin.ok("GET", path)["items"] == []
    # Another query string is another answer: the trash holds the card.
    assert [item["id"] for item in admin.ok("GET", path + "?trashed=true")["items"]] == [card["id"]]


def test_with_no_answers_kept_the_views_answer_the_same(app, admin, sales, clock):
    card = admin.card(sales, "ACME")
    admin.task(card, "2026-11-30T15:00:00Z")
    kept = (today(admin), admin.ok("GET", f"products/{sales['id']}/cards"))
    app.extensions["cardcrm_answers"] = None
    assert (today(admin), admin.ok("GET", f"products/{sales['id']}/cards")) == kept


def test_a_change_made_by_another_process_shows_here_at_once(
    app,
    admin,
    sales,
    other_process,  # noqa: F811
):
    card = admin.card(sales, "ACME")
    path = f"/api/v1/products/{sales['id']}/cards"
    assert [item["title"] for item in admin.ok("GET", path[8:])["items"]] == ["ACME"]
    # The other process answers, and keeps, the list; then this process renames the card.
    for _ in range(2):
        status, listing = other_process.status(admin.token, path)
        assert (status, [item["title"] for item in listing["items"]]) == (200, ["ACME"])
    admin.ok("PATCH", f"cards/{card['id']}", {"title": "Renamed here"})
    status, listing = other_process.status(admin.token, path)
    assert [item["title"] for item in listing["items"]] == ["Renamed here"]
    # And a task made here is in the other process's Today view (long overdue, whatever the
    # time of day the test runs at).
    assert other_process.status(admin.token, "/api/v1/today")[1]["tasks"] == []
    admin.task(card, "2020-01-01T10:00:00Z", "Long overdue")
    status, view = other_process.status(admin.token, "/api/v1/today")
    assert (status, [task["text"] for task in view["tasks"]]) == (200, ["Long overdue"])


def test_an_admin_made_member_sees_everything_at_once(app, admin, member, sales):
    admin.card(sales, "ACME")
    path = f"products/{sales['id']}/cards"
    member.ok("GET", path, status=404)
    with app.app_context():
        session = get_db().session()
        with session.begin():
            session.get(User, member.user.id).is_admin = True
        session.close()
    assert [item["title"] for item in member.ok("GET", path)["items"]] == ["ACME"]


def test_callers_who_see_the_whole_product_share_one_kept_list(app, admin, new_user, sales):
    ana, bob, own = (new_user(f"{name}@example.com") for name in ("ana", "bob", "own"))
    admin.grant(sales, ana, bob)
    admin.grant(sales, own, own_cards_only=True)
    admin.card(sales, "Admin's deal", owner_id=admin.user.id)
    admin.card(sales, "Nobody's deal", owner_id=None)
    path = f"products/{sales['id']}/cards"
    listing = ana.ok("GET", path)
    assert sorted(item["title"] for item in listing["items"]) == ["Admin's deal", "Nobody's deal"]
    with app.app_context():
        statements: list[str] = []

        def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        engine = get_db().engine
        event.listen(engine, "before_cursor_execute", remember)
        try:
            assert bob.ok("GET", path) == listing
        finally:
            event.remove(engine, "before_cursor_execute", remember)
    # Bob's token is read, with his memberships (his sight of the product); the page is
    # Ana's, kept.
    assert len([s for s in statements if not s.startswith(("BEGIN", "ROLLBACK"))]) == 1
    # A member limited to own cards gets their own list, not the shared one.
    assert [item["title"] for item in own.ok("GET", path)["items"]] == ["Nobody's deal"]
    assert admin.ok("GET", path) == listing
