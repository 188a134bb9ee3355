"""The iCal feed: a secret URL per user serving their open tasks, parsed back with icalendar."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest
from cardcrm.calendar_sync import feeds
from cardcrm.calendar_sync.models import FeedToken
from icalendar import Calendar
from sqlalchemy import select, update

from tests.conftest import SqliteBackup

from .conftest import CORE_PUBLIC_URL, PUBLIC_URL


def events_of(calendar: Calendar) -> dict[str, object]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def uid(task: dict) -> str:
    return f"task-{task['id']}@crm.example.com"


@pytest.fixture
def deal(member, sales) -> dict:
    return member.card(sales, "ACME: 40 chairs")


def test_my_feed_shows_each_open_task_as_an_event_with_every_field(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back", type="call")
    calendar.catch_up()

    url = calendar.new_feed(member)
    served = calendar.feed(url)

    assert served["NAME"] == served["X-WR-CALNAME"] == "cardcrm tasks (Member)"
    assert served["REFRESH-INTERVAL"].dt == timedelta(minutes=15)
    assert served["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert served["X-PUBLISHED-TTL"] == "PT15M"
    assert served["METHOD"] == "PUBLISH"
    (event,) = served.walk("VEVENT")
    assert not served.walk("VTODO")
    assert event["UID"] == uid(task)
    assert event["SUMMARY"] == "Call Ana back — ACME: 40 chairs"
    assert f"{CORE_PUBLIC_URL}/cards/{deal['id']}" in event["DESCRIPTION"]
    assert event["URL"] == f"{CORE_PUBLIC_URL}/cards/{deal['id']}"
    assert event["DTSTART"].dt == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert event["DTEND"].dt - event["DTSTART"].dt == timedelta(minutes=30)
    assert event["SEQUENCE"] == 0
    changed = datetime.fromisoformat(task["updated_at"].replace("Z", "+00:00"))
    assert event["DTSTAMP"].dt == event["LAST-MODIFIED"].dt == changed.replace(microsecond=0)
    assert event["TRANSP"] == "TRANSPARENT"
    assert "call" in event["CATEGORIES"].cats


def test_the_feed_never_takes_the_time_of_the_request(calendar, member, deal):
    member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    url = calendar.new_feed(member)

    first = calendar.get(url)
    time.sleep(1.1)
    second = calendar.get(url)

    assert first.data == second.data
    assert first.headers["ETag"] == second.headers["ETag"]


def test_with_format_todos_the_same_tasks_come_as_to_dos(calendar, member, deal):
    timed = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    all_day = member.task(deal, "2026-12-03", "Send the offer", all_day=True)
    calendar.catch_up()

    served = calendar.feed(calendar.new_feed(member) + "?format=todos")

    assert not served.walk("VEVENT")
    todos = {str(todo["UID"]): todo for todo in served.walk("VTODO")}
    assert set(todos) == {uid(timed), uid(all_day)}
    assert todos[uid(timed)]["DUE"].dt == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert todos[uid(all_day)]["DUE"].dt == date(2026, 12, 3)
    assert todos[uid(all_day)]["DUE"].params["VALUE"] == "DATE"
    assert todos[uid(timed)]["STATUS"] == "NEEDS-ACTION"
    assert todos[uid(timed)]["SUMMARY"] == "Call Ana back — ACME: 40 chairs"


def test_an_all_day_task_is_a_date_event_ending_the_next_day(calendar, member, deal):
    task = member.task(deal, "2026-12-31", "Year-end review", all_day=True)
    calendar.catch_up()

    event = events_of(calendar.feed(calendar.new_feed(member)))[uid(task)]

    assert event["DTSTART"].dt == date(2026, 12, 31)
    assert event["DTSTART"].params["VALUE"] == "DATE"
    assert event["DTEND"].dt == date(2027, 1, 1)  # exclusive: the event is that one day


@pytest.mark.parametrize(
    ("written", "local"),
    [
        ("2026-07-15T09:00:00+02:00", datetime(2026, 7, 15, 9, 0)),  # summer time
        ("2026-12-15T09:00:00+01:00", datetime(2026, 12, 15, 9, 0)),  # winter time
    ],
)
def test_a_timed_task_shows_at_its_local_time_in_my_time_zone(
    calendar, admin, new_user, sales, written, local
):
    from zoneinfo import ZoneInfo

    ana = new_user("ana@example.com", timezone="Europe/Berlin")
    admin.grant(sales, ana)
    card = ana.card(sales, "Berlin office")
    task = ana.task(card, written, "Morning call")
    calendar.catch_up()

    served = calendar.feed(calendar.new_feed(ana))
    event = events_of(served)[uid(task)]

    start = event["DTSTART"].dt
    assert start.tzinfo is not None  # an instant, never a floating time
    assert start.astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None) == local
    assert served["X-WR-TIMEZONE"] == "Europe/Berlin"


def test_a_change_moves_the_etag_the_dates_and_the_sequence(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    url = calendar.new_feed(member)
    before = calendar.get(url)
    time.sleep(1.05)

    member.ok("PATCH", f"tasks/{task['id']}", {"text": "Call Ana back about chairs"})
    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-02T09:30:00+01:00"})
    calendar.catch_up()
    after = calendar.get(url)

    assert after.headers["ETag"] != before.headers["ETag"]
    old, new = (events_of(Calendar.from_ical(r.data))[uid(task)] for r in (before, after))
    assert new["SEQUENCE"] == old["SEQUENCE"] + 2
    assert new["LAST-MODIFIED"].dt > old["LAST-MODIFIED"].dt
    assert new["DTSTAMP"].dt == new["LAST-MODIFIED"].dt
    assert new["SUMMARY"].startswith("Call Ana back about chairs")
    assert new["DTSTART"].dt == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    assert _last_modified(after) > _last_modified(before)


def test_renaming_the_card_renames_its_tasks_in_the_feed(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    url = calendar.new_feed(member)
    old = events_of(calendar.feed(url))[uid(task)]

    member.ok("PATCH", f"cards/{deal['id']}", {"title": "ACME: 60 chairs"})
    calendar.catch_up()
    new = events_of(calendar.feed(url))[uid(task)]

    assert new["SUMMARY"] == "Call Ana back — ACME: 60 chairs"
    assert new["SEQUENCE"] > old["SEQUENCE"]


def test_an_unchanged_feed_answers_304_without_building_anything(
    calendar, member, deal, monkeypatch
):
    member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    url = calendar.new_feed(member)
    first = calendar.get(url)
    etag = first.headers["ETag"]
    assert not etag.startswith("W/") and len(etag) > 20  # strong, a hash of the bytes

    def must_not_build(*_args, **_kwargs):
        raise AssertionError("a 304 must not build the calendar")

    monkeypatch.setattr(feeds, "build_feed", must_not_build)
    again = calendar.get(url, **{"If-None-Match": etag})

    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert calendar.get(url, **{"If-None-Match": f'"other", {etag}'}).status_code == 304


def test_polling_a_feed_holds_nothing_open_in_the_database_between_requests(
    calendar, member, deal, calendar_database_url
):
    """On SQLite each thread keeps a connection for looking feeds up (``FeedLookup``): between
    requests it must hold no read snapshot, or the write-ahead log could never be emptied and
    every later change would go unseen by it."""
    if not calendar_database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's lookups use the pool's connections")
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    url = calendar.new_feed(member)
    etag = calendar.get(url).headers["ETag"]
    assert calendar.get(url, **{"If-None-Match": etag}).status_code == 304

    checkpoint = sqlite3.connect(calendar_database_url.removeprefix("sqlite:///"))
    try:
        busy, _pages, _moved = checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        checkpoint.close()
    member.ok("PATCH", f"tasks/{task['id']}", {"text": "Seen at once"})
    calendar.catch_up()

    assert busy == 0
    changed = calendar.get(url, **{"If-None-Match": etag})
    assert changed.status_code == 200 and b"Seen at once" in changed.data


def test_if_none_match_wins_over_if_modified_since(calendar, member, deal):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    url = calendar.new_feed(member)
    first = calendar.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    future = "Fri, 01 Jan 2100 00:00:00 GMT"

    # A stale ETag gets the feed even though the date alone would say "not modified".
    stale = calendar.get(url, **{"If-None-Match": '"stale"', "If-Modified-Since": future})
    assert stale.status_code == 200
    assert stale.data == first.data
    # A matching ETag gets 304 even with a date that alone would mean "changed".
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert calendar.get(url, **{"If-None-Match": etag, "If-Modified-Since": old}).status_code == 304
    # Without If-None-Match the date decides.
    assert calendar.get(url, **{"If-Modified-Since": modified}).status_code == 304
    assert calendar.get(url, **{"If-Modified-Since": old}).status_code == 200

    time.sleep(1.05)
    member.ok("PATCH", f"tasks/{task['id']}", {"text": "Something else"})
    calendar.catch_up()
    assert calendar.get(url, **{"If-None-Match": etag}).status_code == 200
    assert calendar.get(url, **{"If-Modified-Since": modified}).status_code == 200


@pytest.mark.parametrize("how", ["closed", "cancelled", "deleted"])
def test_a_closed_or_deleted_task_leaves_the_feed_and_moves_last_modified(
    calendar, member, deal, how
):
    stays = member.task(deal, "2026-12-01T09:30:00+01:00", "Stays")
    goes = member.task(deal, "2026-12-02T09:30:00+01:00", "Goes")
    calendar.catch_up()
    url = calendar.new_feed(member)
    before = calendar.get(url)
    time.sleep(1.05)

    if how == "deleted":
        member.ok("DELETE", f"tasks/{goes['id']}", status=204)
    else:
        outcome = "done" if how == "closed" else "cancelled"
        member.ok("POST", f"tasks/{goes['id']}/close", {"outcome": outcome})
    calendar.catch_up()
    after = calendar.get(url, **{"If-None-Match": before.headers["ETag"]})

    assert after.status_code == 200
    assert set(events_of(Calendar.from_ical(after.data))) == {uid(stays)}
    assert _last_modified(after) > _last_modified(before)


def test_tasks_of_closed_or_trashed_cards_leave_the_feed_and_come_back(
    calendar, member, deal, sales
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    url = calendar.new_feed(member)
    won = next(status for status in sales["statuses"] if status["group"] == "positive")
    first = next(status for status in sales["statuses"] if status["group"] == "inactive")

    member.ok("PATCH", f"cards/{deal['id']}", {"status_id": won["id"]})
    calendar.catch_up()
    assert events_of(calendar.feed(url)) == {}

    member.ok("PATCH", f"cards/{deal['id']}", {"status_id": first["id"]})
    calendar.catch_up()
    assert set(events_of(calendar.feed(url))) == {uid(task)}

    member.ok("DELETE", f"cards/{deal['id']}", status=204)
    calendar.catch_up()
    assert events_of(calendar.feed(url)) == {}

    member.ok("POST", f"cards/{deal['id']}/restore")
    calendar.catch_up()
    assert set(events_of(calendar.feed(url))) == {uid(task)}


def test_only_my_open_tasks_are_in_my_feed(calendar, member, new_user, deal):
    mine = member.task(deal, "2026-12-01T09:30:00+01:00", "Mine")
    ana = new_user("ana@example.com")
    member.task(deal, "2026-12-01T10:30:00+01:00", "Ana's", assignee_id=ana.user.id)
    moved = member.task(deal, "2026-12-01T11:30:00+01:00", "Given to Ana")
    member.ok("PATCH", f"tasks/{moved['id']}", {"assignee_id": ana.user.id})
    calendar.catch_up()

    assert set(events_of(calendar.feed(calendar.new_feed(member)))) == {uid(mine)}


def test_another_users_feed_url_never_shows_my_tasks(calendar, member, new_user, deal):
    member.task(deal, "2026-12-01T09:30:00+01:00", "Secret negotiation")
    ana = new_user("ana@example.com")
    calendar.catch_up()
    calendar.new_feed(member)

    anas = calendar.get(calendar.new_feed(ana))

    assert anas.status_code == 200
    assert b"Secret negotiation" not in anas.data
    assert events_of(Calendar.from_ical(anas.data)) == {}


def test_a_new_feed_url_revokes_the_old_one_which_then_looks_never_to_have_existed(
    calendar, member, deal
):
    member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    old = calendar.new_feed(member)
    new = calendar.new_feed(member)

    revoked = calendar.get(old)
    unknown = calendar.get(f"{PUBLIC_URL}/feeds/{'x' * 32}.ics")

    assert new != old
    assert calendar.get(new).status_code == 200
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.mimetype == "application/problem+json"
    assert revoked.get_json() == unknown.get_json()
    assert calendar.get(old + "?format=todos").status_code == 404

    calendar.api(member).ok("DELETE", "feed", status=204)
    assert calendar.get(new).status_code == 404
    assert calendar.api(member).ok("GET", "feed") == {
        "active": False,
        "created_at": None,
        "url": None,
        "todos_url": None,
    }


def test_the_feed_url_can_be_shown_again_on_another_device_until_a_new_one_is_made(
    calendar, member, new_user
):
    url = calendar.new_feed(member)
    again = calendar.api(member).ok("GET", "feed")
    assert again["active"] is True
    assert again["url"] == url and again["todos_url"] == url + "?format=todos"
    assert calendar.get(again["url"]).status_code == 200  # showing it again broke nothing
    other = new_user("other-calendar@example.com")
    assert calendar.api(other).ok("GET", "feed")["url"] is None  # never someone else's

    newer = calendar.new_feed(member)
    assert calendar.api(member).ok("GET", "feed")["url"] == newer != url


def test_a_feed_made_before_tokens_were_kept_or_under_another_key_asks_for_a_new_one(
    calendar, member
):
    url = calendar.new_feed(member)
    with calendar.context.database.writer.begin() as session:
        session.execute(update(FeedToken).values(token_sealed="not-a-sealed-token"))
    status = calendar.api(member).ok("GET", "feed")
    assert status["active"] is True and status["url"] is None
    assert calendar.get(url).status_code == 200  # the old address keeps working
    with calendar.context.database.writer.begin() as session:
        session.execute(update(FeedToken).values(token_sealed=None))
    assert calendar.api(member).ok("GET", "feed")["url"] is None


def test_feed_urls_are_secret_random_short_and_stored_only_as_hashes(calendar, member):
    urls = [calendar.new_feed(member) for _ in range(3)]
    tokens = [urlsplit(url).path.rsplit("/", 1)[1].removesuffix(".ics") for url in urls]

    assert all(url.startswith(f"{PUBLIC_URL}/feeds/") for url in urls)
    assert all(len(url) < 256 for url in urls)
    assert len(set(tokens)) == 3
    assert all(len(token) * 6 >= 128 for token in tokens)  # URL-safe base64: 6 bits a char
    with calendar.context.database.session() as session:
        stored = list(session.scalars(select(FeedToken.token_hash)))
    assert not set(tokens) & set(stored)
    with calendar.context.database.session() as session:
        sealed = list(session.scalars(select(FeedToken.token_sealed)))
    assert all(token not in (text or "") for token in tokens for text in sealed)
    assert feeds.hash_token(tokens[-1]) in stored
    status = calendar.api(member).ok("GET", "feed")
    assert status["active"] is True


def test_a_plugin_can_adjust_each_calendar_component(calendar_settings, member, deal):
    from types import SimpleNamespace

    from cardcrm.calendar_sync import create_app
    from cardcrm.core.hookspecs import hookimpl

    from .conftest import CalendarService

    seen = []

    @hookimpl
    def cardcrm_calendar_component(component, task, card):
        seen.append((component.name, task["id"], card["title"]))
        component.add("X-CARDCRM-PRODUCT", str(card["product_id"]))
        component.add("CLASS", "PRIVATE")

    plugin = SimpleNamespace(cardcrm_calendar_component=cardcrm_calendar_component)
    service = CalendarService(create_app({**calendar_settings, "PLUGINS": [plugin]}), type(member))
    try:
        task = member.task(deal, "2026-12-01T09:30:00+01:00")
        service.catch_up()
        url = service.new_feed(member)
        event = events_of(service.feed(url))[uid(task)]
        todo = service.feed(url + "?format=todos").walk("VTODO")[0]
    finally:
        service.context.close()

    assert event["CLASS"] == todo["CLASS"] == "PRIVATE"
    assert event["X-CARDCRM-PRODUCT"] == str(deal["product_id"])
    assert ("VEVENT", task["id"], deal["title"]) in seen
    assert ("VTODO", task["id"], deal["title"]) in seen


def test_a_feed_with_no_tasks_is_an_empty_calendar(calendar, member):
    served = calendar.feed(calendar.new_feed(member))
    assert served.walk("VEVENT") == []
    assert served["X-WR-CALNAME"]


def _last_modified(response) -> datetime:
    return parsedate_to_datetime(response.headers["Last-Modified"])


def test_after_core_is_restored_alone_the_feed_shows_core_as_it_is_now(
    calendar, member, deal, database_url, tmp_path
):
    """Core restored from a backup behind the mirror's cursor: the mirror notices, is rebuilt
    from core's events, and the feed shows the tasks core has, not those lost with the restore
    (whose ids core gives to new tasks)."""
    backup = SqliteBackup(database_url, tmp_path)
    kept = member.task(deal, "2026-12-01T09:30:00+01:00", "Kept by the backup")
    calendar.catch_up()
    backup.take()
    lost = [member.task(deal, f"2026-12-0{day}T09:30:00+01:00", f"Lost {day}") for day in (2, 3)]
    calendar.catch_up()
    url = calendar.new_feed(member)
    assert set(events_of(calendar.feed(url))) == {uid(kept)} | {uid(task) for task in lost}

    backup.restore()
    new = member.task(deal, "2026-12-04T09:30:00+01:00", "Made after the restore")
    assert new["id"] == lost[0]["id"]  # core gave the new task a lost one's id
    calendar.catch_up()

    served = events_of(calendar.feed(url))
    assert set(served) == {uid(kept), uid(new)}
    assert str(served[uid(new)]["SUMMARY"]).startswith("Made after the restore")
    health = calendar.client.get("/healthz").get_json()
    assert "behind the cursor" in health["feed"]["calendar_sync"]["rewind_reason"]


def test_a_recurring_task_carries_its_rule_in_the_feed(calendar, member, deal):
    """Issue 19: a calendar shows a series' coming occurrences (``ical.repeat_rule``)."""
    task = member.task(
        deal,
        "2026-12-01T09:30:00+01:00",
        "Weekly check-in",
        repeat={"freq": "weekly", "interval": 2, "weekdays": ["TU"]},
    )
    calendar.catch_up()
    url = calendar.new_feed(member)
    for query in ("", "?format=todos"):
        served = Calendar.from_ical(calendar.get(url + query).data)
        (component,) = [*served.walk("VEVENT"), *served.walk("VTODO")]
        assert component["UID"] == uid(task)
        rule = component["RRULE"]
        assert (rule["FREQ"], rule["INTERVAL"], rule["BYDAY"]) == (["WEEKLY"], [2], ["TU"])
