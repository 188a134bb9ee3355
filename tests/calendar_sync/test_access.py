"""Calendars follow core's access rules: no feed and no CalDAV calendar shows a task on a card
its user may not see.

Admins see every card; other users the products they are members of, and a member limited to
their own cards only the cards they own or nobody owns. Memberships and owners reach the
service through core's event feed; whether a user is an admin is asked of core.
"""

from __future__ import annotations

from typing import Any

import pytest
from cardcrm.calendar_sync.caldav import push
from cardcrm.calendar_sync.migrate import upgrade
from cardcrm.calendar_sync.mirror import is_listed, queue
from cardcrm.calendar_sync.models import EventCursor
from cardcrm.common.db import get_db
from cardcrm.core.auth.models import User
from cardcrm.sidecar import core_client
from sqlalchemy import select, update

from .conftest import CalendarService, calendar_app_of, free_port


def uid(task: dict) -> str:
    return f"task-{task['id']}@crm.example.com"


def shown(calendar: CalendarService, url: str) -> set[str]:
    """The UIDs of the tasks a feed shows."""
    return {str(event["UID"]) for event in calendar.feed(url).walk("VEVENT")}


def set_members(admin: Any, product: dict, *items: tuple[Any, bool]) -> None:
    """Make ``items`` (user, own cards only) the product's whole member list."""
    body = [{"user_id": user.user.id, "own_cards_only": limited} for user, limited in items]
    admin.ok("PUT", f"products/{product['id']}/members", {"items": body})


def set_admin(app: Any, user: Any, is_admin: bool) -> None:
    """Make a user an admin or not in core (no event tells the sidecars)."""
    with app.app_context():
        session = get_db().session()
        session.execute(update(User).where(User.id == user.user.id).values(is_admin=is_admin))
        session.commit()
        session.close()


DUE = "2026-12-01T09:30:00+01:00"


# --- the iCal feed --------------------------------------------------------------------------


def test_a_member_removed_from_a_product_no_longer_sees_its_tasks_in_the_feed(
    calendar, admin, member, sales
):
    card = admin.card(sales, "ACME")
    task = admin.task(card, DUE, "Call ACME", assignee_id=member.user.id)
    calendar.catch_up()
    url = calendar.new_feed(member)
    first = calendar.get(url)
    assert shown(calendar, url) == {uid(task)}

    set_members(admin, sales)
    calendar.catch_up()

    after = calendar.get(url, **{"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != first.headers["ETag"]
    assert shown(calendar, url) == set()

    admin.grant(sales, member)
    calendar.catch_up()
    assert shown(calendar, url) == {uid(task)}


def test_a_member_limited_to_own_cards_sees_tasks_on_own_and_unowned_cards(calendar, admin, member):
    product = admin.product("sales")
    admin.grant(product, member, own_cards_only=True)
    tasks = {}
    for title, owner in (("mine", member.user.id), ("nobody's", None), ("admin's", admin.user.id)):
        card = admin.card(product, title, owner_id=owner)
        tasks[title] = (card, admin.task(card, DUE, title, assignee_id=member.user.id))
    calendar.catch_up()
    url = calendar.new_feed(member)
    assert shown(calendar, url) == {uid(tasks["mine"][1]), uid(tasks["nobody's"][1])}

    # The card's owner decides: handed to the member it comes in, handed away it goes.
    etag = calendar.get(url).headers["ETag"]
    admins_card, my_card = tasks["admin's"][0], tasks["mine"][0]
    admin.ok("PATCH", f"cards/{admins_card['id']}", {"owner_id": member.user.id})
    admin.ok("PATCH", f"cards/{my_card['id']}", {"owner_id": admin.user.id})
    calendar.catch_up()
    assert calendar.get(url, **{"If-None-Match": etag}).status_code == 200
    assert shown(calendar, url) == {uid(tasks["admin's"][1]), uid(tasks["nobody's"][1])}

    # Without the limit the member sees every card of the product.
    set_members(admin, product, (member, False))
    calendar.catch_up()
    assert shown(calendar, url) == {uid(task) for _card, task in tasks.values()}


def test_an_admin_sees_the_tasks_of_every_product_without_being_a_member(
    calendar, admin, member, sales
):
    card = member.card(sales, "ACME")
    task = member.task(card, DUE, "For the boss", assignee_id=admin.user.id)
    calendar.catch_up()

    assert shown(calendar, calendar.new_feed(admin)) == {uid(task)}


def test_an_admin_who_is_no_longer_one_gets_a_new_feed_not_a_304(
    calendar, app, admin, member, sales
):
    card = member.card(sales, "ACME")
    task = member.task(card, DUE, "For the boss", assignee_id=admin.user.id)
    calendar.catch_up()
    url = calendar.new_feed(admin)
    first = calendar.get(url)
    assert shown(calendar, url) == {uid(task)}

    set_admin(app, admin, False)
    calendar.context.core.user(admin.user.id, fresh=True)  # core's answer is cached a while

    # No event came, the feed version is the same: the ETag kept must not answer for it.
    again = calendar.get(url, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert again.headers["ETag"] != first.headers["ETag"]
    assert shown(calendar, url) == set()


def test_a_feed_is_not_served_when_core_cannot_say_who_is_an_admin(
    calendar, member, sales, monkeypatch
):
    member.task(member.card(sales, "ACME"), DUE)
    calendar.catch_up()
    url = calendar.new_feed(member)
    assert calendar.get(url).status_code == 200
    monkeypatch.setattr(calendar.context.core, "base_url", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(core_client, "USER_TTL_SECONDS", 0)  # core's answers expired

    response = calendar.get(url)

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 503
    assert int(response.headers["Retry-After"]) > 0


# --- CalDAV ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how", ["removed from the product", "limited to own cards", "card handed to another"]
)
def test_a_to_do_leaves_the_calendar_when_its_assignee_loses_sight_of_the_card_and_comes_back(
    calendar, admin, member, sales, radicale, how
):
    handed = how == "card handed to another"
    card = admin.card(sales, "ACME", owner_id=member.user.id if handed else admin.user.id)
    if handed:
        set_members(admin, sales, (member, True))
    stays = member.task(member.card(sales, "Mine", owner_id=member.user.id), DUE, "Stays")
    task = admin.task(card, DUE, "Call ACME", assignee_id=member.user.id)
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    assert set(calendar_app_of(account).by_uid()) == {uid(stays), uid(task)}

    if how == "removed from the product":
        set_members(admin, sales)
    elif how == "limited to own cards":
        set_members(admin, sales, (member, True))
    else:
        admin.ok("PATCH", f"cards/{card['id']}", {"owner_id": admin.user.id})
    calendar.catch_up()
    report = calendar.sync(account["id"])

    assert report.deleted == (2 if how == "removed from the product" else 1)
    expected = set() if how == "removed from the product" else {uid(stays)}
    assert set(calendar_app_of(account).by_uid()) == expected

    if handed:
        admin.ok("PATCH", f"cards/{card['id']}", {"owner_id": member.user.id})
    else:
        set_members(admin, sales, (member, False))
    calendar.catch_up()
    calendar.sync(account["id"])

    assert set(calendar_app_of(account).by_uid()) == {uid(stays), uid(task)}
    assert calendar.account(member, account["id"])["last_error"] is None


def test_an_admin_who_is_no_longer_one_loses_the_to_dos_of_products_they_are_no_member_of(
    calendar, app, admin, member, sales, radicale
):
    task = member.task(member.card(sales, "ACME"), DUE, "For the boss", assignee_id=admin.user.id)
    calendar.catch_up()
    account = calendar.connect(admin, radicale)
    calendar.sync(account["id"])
    assert set(calendar_app_of(account).by_uid()) == {uid(task)}

    set_admin(app, admin, False)
    calendar.context.core.user(admin.user.id, fresh=True)
    report = calendar.sync(account["id"])

    assert report.deleted == 1
    assert calendar_app_of(account).by_uid() == {}


# --- upgrading from a mirror without access rules -------------------------------------------


def test_after_the_upgrade_the_mirror_relearns_owners_and_members_before_showing_anything(
    calendar_settings, calendar, admin, member, radicale, monkeypatch
):
    """A database of the first schema, whose calendar holds every task of its user, is
    migrated: until the mirror has read core's feed again, no feed and no sync; then only what
    the user may see."""
    from alembic import command
    from cardcrm.calendar_sync import create_app
    from cardcrm.calendar_sync.migrate import alembic_config

    sales, other = admin.product("sales"), admin.product("sales")
    admin.grant(sales, member, own_cards_only=True)
    for_member = {"assignee_id": member.user.id}
    mine = admin.task(admin.card(sales, "Mine", owner_id=member.user.id), DUE, **for_member)
    theirs = admin.task(admin.card(sales, "Admin's", owner_id=admin.user.id), DUE, **for_member)
    elsewhere = admin.task(admin.card(other, "Elsewhere"), DUE, **for_member)
    calendar.catch_up()
    # What the service did before access rules: the calendar holds every task of the user.
    monkeypatch.setattr(
        push, "is_shown", lambda _session, task, card, user, _admin: is_listed(task, card, user)
    )
    account = calendar.connect(member, radicale)
    with calendar.context.database.writer.begin() as session:
        queue(session, [(account["id"], task["id"]) for task in (mine, theirs, elsewhere)])
    calendar.sync(account["id"])
    monkeypatch.undo()
    assert set(calendar_app_of(account).by_uid()) == {uid(mine), uid(theirs), uid(elsewhere)}
    url = calendar.new_feed(member)
    calendar.context.close()

    database = calendar_settings["DATABASE_URL"]
    try:
        command.downgrade(alembic_config(database), "0001")
    finally:
        upgrade(database)
    migrated = CalendarService(create_app(calendar_settings), type(member))
    try:
        with migrated.context.database.session() as session:
            cursors = dict(session.execute(select(EventCursor.name, EventCursor.last_id)).all())
        assert cursors["calendar_sync"] == 0 and cursors["calendar_sync.replay_until"] > 0

        # Catching up: the memberships known are not yet today's.
        assert migrated.get(url).status_code == 503
        assert migrated.sync(account["id"]).pushed == 0
        assert set(calendar_app_of(account).by_uid()) == {uid(mine), uid(theirs), uid(elsewhere)}

        migrated.catch_up()
        assert shown(migrated, url) == {uid(mine)}
        report = migrated.sync(account["id"])
        # Removed by the push, or already by the reconcile of the worker's first round (core
        # does not show the user those tasks).
        assert report.deleted + report.orphans == 2
        assert set(calendar_app_of(account).by_uid()) == {uid(mine)}
    finally:
        migrated.sync_worker.close()
        migrated.context.close()
