"""A feed served again: its bytes kept by the process that built them, reused while nothing
changed and rebuilt from the entries of the tasks that did not change, never stale.

Each served feed is compared byte for byte with the feed a second service on the same
database builds from nothing (no feed kept, every component rendered again).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cardcrm.calendar_sync import create_app, feeds
from cardcrm.calendar_sync.models import FeedRender, MirrorTask
from sqlalchemy import create_engine, delete, select, text, update

from .conftest import PUBLIC_URL, CalendarService


@pytest.fixture
def deal(member, sales) -> dict:
    return member.card(sales, "ACME: 40 chairs")


@pytest.fixture
def other(calendar_settings, member) -> Iterator[CalendarService]:
    """A second calendar service on the same database, as another worker process is."""
    service = CalendarService(create_app(calendar_settings), type(member))
    yield service
    service.sync_worker.close()
    service.context.close()


def built_from_nothing(service: CalendarService, url: str) -> bytes:
    """The feed as ``service`` builds it with no component kept anywhere."""
    with service.context.database.writer.begin() as session:
        session.execute(update(MirrorTask).values(render_key=None, vevent=None, vtodo=None))
        session.execute(delete(FeedRender))
    feeds.kept_feeds_of(service.context).forget()
    response = service.get(url)
    assert response.status_code == 200
    return response.data


@pytest.fixture
def rendered(calendar, monkeypatch) -> list[int]:
    """The ids of the tasks whose components ``calendar`` renders from now on."""
    seen: list[int] = []
    renderer = calendar.context.renderer
    render_many = renderer.render_many

    def counting(kind: str, pairs: Any, *args: Any, **kwargs: Any) -> list[str]:
        pairs = list(pairs)
        seen.extend(task.id for task, _card in pairs)
        return render_many(kind, pairs, *args, **kwargs)

    monkeypatch.setattr(renderer, "render_many", counting)
    return seen


@pytest.mark.parametrize("format", ["events", "todos"])
def test_every_change_made_through_core_shows_at_once_with_a_new_etag(
    calendar, other, member, deal, format
):
    tasks = [
        member.task(deal, f"2026-12-0{day}T09:30:00+01:00", f"Call {day}") for day in (1, 2, 3)
    ]
    calendar.catch_up()
    url = calendar.new_feed(member) + ("?format=todos" if format == "todos" else "")
    served = calendar.get(url)
    seen_etags = {served.headers["ETag"]}

    changes = [
        ("PATCH", f"tasks/{tasks[1]['id']}", {"text": "Call 2 about chairs"}, b"about chairs"),
        # moved before the first: the feed's order changes too
        ("PATCH", f"tasks/{tasks[2]['id']}", {"due": "2026-11-30T09:30:00+01:00"}, None),
        (
            "POST",
            f"cards/{deal['id']}/tasks",
            {"text": "New one", "due": "2026-12-04", "all_day": True},
            b"New one",
        ),
        ("PATCH", f"cards/{deal['id']}", {"title": "ACME: 60 chairs"}, b"60 chairs"),
        ("POST", f"tasks/{tasks[0]['id']}/close", {"outcome": "done"}, None),
    ]
    for method, path, body, shown in changes:
        before = served
        member.ok(method, path, body)
        calendar.catch_up()

        served = calendar.get(url, **{"If-None-Match": before.headers["ETag"]})

        assert served.status_code == 200, path
        assert served.headers["ETag"] not in seen_etags, path
        seen_etags.add(served.headers["ETag"])
        assert served.data == built_from_nothing(other, url), path
        if shown is not None:
            assert shown in served.data
    assert f"task-{tasks[0]['id']}@".encode() not in served.data  # closed: gone
    assert calendar.get(url, **{"If-None-Match": served.headers["ETag"]}).status_code == 304


def test_an_unchanged_feed_is_served_again_from_the_bytes_kept_without_building(
    calendar, member, deal, monkeypatch
):
    member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    url = calendar.new_feed(member)
    first = calendar.get(url)

    def must_not_build(*_args, **_kwargs):
        raise AssertionError("an unchanged feed must not be built again")

    monkeypatch.setattr(feeds, "build_feed", must_not_build)
    again = calendar.get(url)  # a client without If-None-Match
    # The ETag stored for other processes forgotten: the process's own still answers.
    with calendar.context.database.writer.begin() as session:
        session.execute(delete(FeedRender))
    unknown_elsewhere = calendar.get(url)
    not_modified = calendar.get(url, **{"If-None-Match": first.headers["ETag"]})

    assert again.status_code == unknown_elsewhere.status_code == 200
    assert again.data == unknown_elsewhere.data == first.data
    assert again.headers["ETag"] == unknown_elsewhere.headers["ETag"] == first.headers["ETag"]
    assert not_modified.status_code == 304


def test_a_changed_task_is_the_only_component_rendered_again(
    calendar, other, member, deal, rendered
):
    tasks = [member.task(deal, f"2026-12-0{day}T09:30:00+01:00") for day in range(1, 6)]
    calendar.catch_up()
    url = calendar.new_feed(member)
    calendar.get(url)
    assert sorted(rendered) == sorted(task["id"] for task in tasks)

    rendered.clear()
    member.ok("PATCH", f"tasks/{tasks[3]['id']}", {"text": "Only this one"})
    calendar.catch_up()
    served = calendar.get(url)

    assert rendered == [tasks[3]["id"]]
    assert b"Only this one" in served.data
    assert served.data == built_from_nothing(other, url)


def test_a_feed_is_answered_before_what_it_built_is_stored_even_while_the_database_is_busy(
    calendar, other, member, deal, calendar_database_url
):
    tasks = [member.task(deal, f"2026-12-0{day}T09:30:00+01:00") for day in (1, 2)]
    calendar.catch_up()
    url = calendar.new_feed(member)
    # Another process writing to the database (a long transaction of the sync worker): it
    # holds what storing the feed's components needs (SQLite: the write lock; PostgreSQL: the
    # tasks' rows).
    engine = create_engine(calendar_database_url)
    blocker = engine.connect()
    if engine.dialect.name == "sqlite":
        blocker.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        blocker.execute(text("SELECT id FROM mirror_tasks FOR UPDATE"))
    answers: list[Any] = []
    request = threading.Thread(
        target=lambda: answers.append(calendar.client.get(url.removeprefix(PUBLIC_URL)))
    )
    try:
        request.start()
        request.join(5)
        answered = bool(answers)
    finally:
        blocker.rollback()
        blocker.close()
        engine.dispose()
        request.join(30)

    assert answered, "the feed waited for the database's lock before answering"
    (response,) = answers
    assert response.status_code == 200
    body = response.get_data()
    with calendar.context.database.session() as session:
        assert session.scalar(select(FeedRender.etag)) is None
        assert not any(session.scalars(select(MirrorTask.vevent)))
    response.close()  # sent: what the build computed is stored now, for every process
    with calendar.context.database.session() as session:
        rendered = session.scalars(select(MirrorTask.vevent).order_by(MirrorTask.id)).all()
        assert len(rendered) == len(tasks) and all(rendered)
        assert session.scalar(select(FeedRender.etag)) == response.headers["ETag"]
    assert body == built_from_nothing(other, url)


def test_no_garbage_collection_runs_while_a_feed_is_built_and_the_collector_is_left_as_found(
    calendar, member, deal, monkeypatch
):
    member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    url = calendar.new_feed(member)
    collector_on: list[bool] = []
    render_many = calendar.context.renderer.render_many

    def rendering(*args: Any, **kwargs: Any) -> list[str]:
        collector_on.append(gc.isenabled())
        return render_many(*args, **kwargs)

    monkeypatch.setattr(calendar.context.renderer, "render_many", rendering)

    assert calendar.get(url).status_code == 200
    assert collector_on == [False]  # a full collection here took 60-80 ms of a cold build
    assert gc.isenabled()
    gc.disable()  # someone else's choice: a build does not turn the collector on
    try:
        feeds.kept_feeds_of(calendar.context).forget()
        with calendar.context.database.writer.begin() as session:
            session.execute(update(MirrorTask).values(render_key=None, vevent=None, vtodo=None))
        assert calendar.get(url).status_code == 200
        assert collector_on == [False, False]
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_after_a_change_of_every_task_the_components_another_process_kept_are_not_rendered_again(
    calendar, other, member, deal, rendered
):
    tasks = [member.task(deal, f"2026-12-0{day}T09:30:00+01:00") for day in (1, 2, 3)]
    calendar.catch_up()
    url = calendar.new_feed(member)
    calendar.get(url)  # this process keeps the feed (its entries)
    member.ok("PATCH", f"cards/{deal['id']}", {"title": "ACME: 60 chairs"})  # every task changes
    other.catch_up()
    built_elsewhere = other.get(url)  # another process renders them, and keeps them
    rendered.clear()

    served = calendar.get(url)

    assert rendered == []
    assert served.data == built_elsewhere.data
    assert served.data.count(b"ACME: 60 chairs") == 2 * len(tasks)  # summary and description


def test_another_process_serves_the_change_made_after_this_one_kept_its_feed(
    calendar, other, member, deal
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Before")
    calendar.catch_up()
    url = calendar.new_feed(member)
    first = calendar.get(url)
    assert other.get(url).data == first.data  # both processes keep the same feed

    member.ok("PATCH", f"tasks/{task['id']}", {"text": "After"})
    other.catch_up()  # the worker (another process) applies the change

    for service in (calendar, other):
        served = service.get(url, **{"If-None-Match": first.headers["ETag"]})
        assert served.status_code == 200
        assert b"After" in served.data and b"Before" not in served.data
        assert served.headers["ETag"] != first.headers["ETag"]


def test_a_revoked_feed_url_is_gone_at_once_though_its_bytes_were_kept(calendar, member, deal):
    member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    url = calendar.new_feed(member)
    first = calendar.get(url)
    assert first.status_code == 200

    calendar.api(member).ok("DELETE", "feed", status=204)

    assert calendar.get(url).status_code == 404
    assert calendar.get(url, **{"If-None-Match": first.headers["ETag"]}).status_code == 404
    new_url = calendar.new_feed(member)
    assert calendar.get(url).status_code == 404
    assert calendar.get(new_url).status_code == 200


def test_a_new_language_is_a_new_feed_though_no_task_changed(calendar, member, deal):
    member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    url = calendar.new_feed(member)
    english = calendar.get(url)
    assert b"cardcrm tasks (Member)" in english.data

    member.ok("PATCH", "me", {"language": "ro"})
    calendar.context.core.user(member.user.id, fresh=True)  # past the profile's cache time
    romanian = calendar.get(url, **{"If-None-Match": english.headers["ETag"]})

    assert romanian.status_code == 200
    assert b"Sarcini cardcrm (Member)" in romanian.data
    assert romanian.headers["ETag"] != english.headers["ETag"]


def test_a_plugins_components_stay_its_own_after_a_change(calendar_settings, member, deal):
    from types import SimpleNamespace

    from cardcrm.core.hookspecs import hookimpl

    @hookimpl
    def cardcrm_calendar_component(component, task, card):
        component.add("CLASS", "PRIVATE")

    plugin = SimpleNamespace(cardcrm_calendar_component=cardcrm_calendar_component)
    service = CalendarService(create_app({**calendar_settings, "PLUGINS": [plugin]}), type(member))
    try:
        task = member.task(deal, "2026-12-01T09:30:00+01:00", "Before")
        member.task(deal, "2026-12-02T09:30:00+01:00", "Unchanged")
        service.catch_up()
        url = service.new_feed(member)
        service.feed(url)
        member.ok("PATCH", f"tasks/{task['id']}", {"text": "After"})
        service.catch_up()
        events = service.feed(url).walk("VEVENT")
    finally:
        service.context.close()

    assert [str(event["SUMMARY"]).split(" — ")[0] for event in events] == ["After", "Unchanged"]
    assert [event["CLASS"] for event in events] == ["PRIVATE", "PRIVATE"]


def _kept(n: int, size: int) -> feeds.KeptFeed:
    built = feeds.BuiltFeed(b"x" * size, f'"{n}"', "key", {})
    return feeds.KeptFeed((n,), built)


def test_a_process_keeps_feeds_up_to_its_limit_dropping_the_least_recently_used():
    kept = feeds.KeptFeeds(limit=2 * 1000 * 3)
    for user in (1, 2, 3):
        kept.put(user, "events", _kept(user, 1000))
    assert kept.get(1, "events") is not None  # used: 2 is now the least recently used

    kept.put(4, "events", _kept(4, 1000))

    assert kept.get(2, "events") is None
    assert [kept.get(user, "events") is not None for user in (1, 3, 4)] == [True] * 3
    kept.put(5, "todos", _kept(5, 10_000))  # more than the whole limit: not kept
    assert kept.get(5, "todos") is None
    assert kept.get(4, "events") is not None
