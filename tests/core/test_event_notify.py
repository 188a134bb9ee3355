"""Several core processes on one PostgreSQL database: a change wakes every one's long-polls.

Two core apps with their own engines stand for two gunicorn workers (or two machines): the
sidecars long-poll one, a user writes through the other. The long-polls' own look at the
database is set to every 5 s here, so an answer within 1 s can only come from ``NOTIFY``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cardcrm.common.db import get_db
from cardcrm.core import create_app
from cardcrm.core.auth.service import create_token
from sqlalchemy import text

from tests.conftest import Api, empty_postgres, get_db_from, make_user

SLOW_POLL_SECONDS = 5


@pytest.fixture
def instances(postgres_database: str, tmp_path: Any) -> Iterator[tuple[Any, Any]]:
    empty_postgres(postgres_database)
    config = {
        "TESTING": True,
        "DATABASE_URL": postgres_database,
        "SECRET_KEY": "test-secret",
        "DATA_DIR": str(tmp_path),
        "EVENTS_POLL_SECONDS": SLOW_POLL_SECONDS,
    }
    first, second = create_app(config), create_app(config)
    yield first, second
    for app in (first, second):
        app.extensions["cardcrm_event_listener"].stop()
        get_db_from(app).dispose()


def service_token(app: Any) -> str:
    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="notifications")
        session.close()
    return token


def long_poll(app: Any, token: str, after: int, wait: float) -> tuple[dict, float]:
    started = time.monotonic()
    response = app.test_client().get(
        f"/api/v1/events?after={after}&wait={wait}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    return response.get_json(), time.monotonic() - started


def wait_listening(app: Any) -> None:
    listener = app.extensions["cardcrm_event_listener"]
    assert listener.listening.wait(10), "the event listener did not connect"


def test_a_write_on_one_instance_wakes_a_long_poll_on_the_other(instances):
    follower_side, writer_side = instances
    user, token = make_user(writer_side, "admin@example.com", admin=True)
    writer = Api(writer_side.test_client(), token, user)
    product = writer.product("sales")
    feed_token = service_token(follower_side)
    last = long_poll(follower_side, feed_token, 0, 0)[0]["last_id"]
    long_poll(follower_side, feed_token, last, 0.01)  # starts the listener
    wait_listening(follower_side)

    result: dict[str, Any] = {}
    reader = threading.Thread(
        target=lambda: result.update(answer=long_poll(follower_side, feed_token, last, 20))
    )
    reader.start()
    time.sleep(0.3)
    written = time.monotonic()
    writer.card(product, "Seen at once")
    reader.join(25)
    page, _seconds = result["answer"]
    assert [item["type"] for item in page["items"]] == ["card.created"]
    assert time.monotonic() - written < 1, "woken by the slow poll, not by NOTIFY"


def test_a_rolled_back_write_notifies_no_one(instances):
    follower_side, writer_side = instances
    feed_token = service_token(follower_side)
    long_poll(follower_side, feed_token, 0, 0.01)
    wait_listening(follower_side)
    notifier = follower_side.extensions["cardcrm_events"]
    seen = notifier.seen
    user, token = make_user(writer_side, "admin@example.com", admin=True)
    writer = Api(writer_side.test_client(), token, user)
    assert writer.post("products", {"name": "", "template": "sales"}).status_code == 422
    time.sleep(0.5)
    # make_user commits no event; the refused product made none: nothing was heard.
    assert notifier.seen == seen


def test_the_listener_reconnects_after_its_connection_is_cut(instances, postgres_database):
    follower_side, writer_side = instances
    feed_token = service_token(follower_side)
    long_poll(follower_side, feed_token, 0, 0.01)
    wait_listening(follower_side)
    listener = follower_side.extensions["cardcrm_event_listener"]
    # As a database restart does: every listening backend is terminated.
    with get_db_from(writer_side).engine.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            )
        )
    deadline = time.monotonic() + 10
    while listener.listening.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    wait_listening(follower_side)

    user, token = make_user(writer_side, "admin@example.com", admin=True)
    writer = Api(writer_side.test_client(), token, user)
    product = writer.product("sales")
    last = long_poll(follower_side, feed_token, 0, 0)[0]["last_id"]
    result: dict[str, Any] = {}
    reader = threading.Thread(
        target=lambda: result.update(answer=long_poll(follower_side, feed_token, last, 20))
    )
    reader.start()
    time.sleep(0.3)
    written = time.monotonic()
    writer.card(product, "After the restart")
    reader.join(25)
    assert [item["type"] for item in result["answer"][0]["items"]] == ["card.created"]
    assert time.monotonic() - written < 1


def test_without_its_listener_a_long_poll_still_finds_the_change_by_polling(
    instances, postgres_database, tmp_path
):
    _, writer_side = instances
    follower_side = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": postgres_database,
            "SECRET_KEY": "test-secret",
            "DATA_DIR": str(tmp_path),
        }
    )
    follower_side.extensions["cardcrm_event_listener"].close()  # as if it could not connect
    try:
        user, token = make_user(writer_side, "admin@example.com", admin=True)
        writer = Api(writer_side.test_client(), token, user)
        product = writer.product("sales")
        feed_token = service_token(follower_side)
        last = long_poll(follower_side, feed_token, 0, 0)[0]["last_id"]
        result: dict[str, Any] = {}
        reader = threading.Thread(
            target=lambda: result.update(answer=long_poll(follower_side, feed_token, last, 20))
        )
        reader.start()
        time.sleep(0.3)
        writer.card(product, "Found by the poll")
        reader.join(25)
        page, seconds = result["answer"]
        assert [item["type"] for item in page["items"]] == ["card.created"]
        assert seconds < 2  # the default look every 0.5 s, not the 20 s wait
    finally:
        get_db_from(follower_side).dispose()


def test_a_waiting_long_poll_holds_no_lock_that_would_stop_a_migration(instances):
    # The request's session reads the caller's token; left open through the wait, its share
    # locks held up ALTER/TRUNCATE for up to the whole wait, and the long-poll's own next look
    # then queued behind that statement: a deadlock no database could see.
    follower_side, _ = instances
    feed_token = service_token(follower_side)
    last = long_poll(follower_side, feed_token, 0, 0)[0]["last_id"]
    result: dict[str, Any] = {}
    reader = threading.Thread(
        target=lambda: result.update(answer=long_poll(follower_side, feed_token, last, 3))
    )
    reader.start()
    time.sleep(0.5)
    with follower_side.app_context(), get_db().engine.begin() as connection:
        connection.execute(text("SET LOCAL lock_timeout = '1s'"))
        connection.execute(text("LOCK TABLE api_tokens, users IN ACCESS EXCLUSIVE MODE"))
    reader.join(10)
    assert result["answer"][0]["items"] == []
