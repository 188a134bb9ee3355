"""The event feed: a transactional outbox read in id order, with long-poll."""

import random
import threading
import time

import pytest
from cardcrm.common.db import get_db, write_transaction
from cardcrm.core.auth.service import create_token
from cardcrm.core.events import record_event
from sqlalchemy import event as sa_event

from tests.conftest import SqliteBackup


@pytest.fixture
def service_api(app, client):
    from types import SimpleNamespace

    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="calendar")
        session.close()
    return SimpleNamespace(
        get=lambda path: client.get(f"/api/v1/{path}", headers={"Authorization": f"Bearer {token}"})
    )


def feed(api, after=0, **params):
    query = "&".join(f"{key}={value}" for key, value in {"after": after, **params}.items())
    return api.get(f"events?{query}").get_json()


def test_only_admins_and_service_tokens_read_the_feed(admin, member, anonymous, service_api):
    assert anonymous.get("events").status_code == 401
    assert member.get("events").status_code == 403
    assert admin.get("events").status_code == 200
    assert service_api.get("events").status_code == 200
    assert service_api.get("me").status_code == 403


def test_every_write_appends_its_events_with_the_object_after_the_change(admin, service_api):
    product = admin.product("sales")
    won = next(status for status in product["statuses"] if status["group"] == "positive")
    card = admin.card(product, "ACME")
    task = admin.task(card, "2026-12-01T10:00:00Z")
    admin.ok("PATCH", f"tasks/{task['id']}", {"text": "Call Ana"})
    admin.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-02T10:00:00Z"})
    admin.ok("POST", f"tasks/{task['id']}/close", {})
    admin.ok("POST", f"tasks/{task['id']}/reopen")
    admin.ok("PATCH", f"cards/{card['id']}", {"title": "ACME Corp", "status_id": won["id"]})
    admin.delete(f"tasks/{task['id']}")
    admin.delete(f"cards/{card['id']}")
    admin.ok("PATCH", f"products/{product['id']}", {"name": "Sales EU"})
    admin.delete(f"products/{product['id']}?force=true")
    events = feed(service_api, limit=100)["items"]
    assert [item["type"] for item in events] == [
        "product.created",
        "card.created",
        "task.created",
        "task.updated",
        "task.postponed",
        "task.closed",
        "task.reopened",
        "card.updated",
        "card.status_changed",
        "task.deleted",
        "card.deleted",
        "product.updated",
        "product.deleted",
    ]
    ids = [item["id"] for item in events]
    assert ids == sorted(set(ids))
    by_type = {item["type"]: item for item in events}
    assert by_type["task.postponed"]["data"]["before"]["due"] == "2026-12-01T10:00:00Z"
    assert by_type["task.postponed"]["data"]["due"] == "2026-12-02T10:00:00Z"
    assert by_type["card.status_changed"]["data"]["before"]["status_group"] == "inactive"
    assert by_type["card.status_changed"]["data"]["status_group"] == "positive"
    assert by_type["card.updated"]["data"]["title"] == "ACME Corp"
    assert by_type["task.closed"]["data"]["status"] == "done"
    assert by_type["card.deleted"]["data"]["trashed"] is True
    assert all(item["at"].endswith("Z") and item["actor_id"] == admin.user.id for item in events)


def test_the_feed_pages_in_order_and_last_id_continues(admin, service_api):
    product = admin.product("sales")
    for index in range(7):
        admin.card(product, f"card {index}")
    seen, after = [], 0
    while True:
        page = feed(service_api, after, limit=3)
        if not page["items"]:
            assert page["last_id"] == after
            break
        seen += page["items"]
        after = page["last_id"]
    assert [item["type"] for item in seen] == ["product.created"] + ["card.created"] * 7
    assert [item["id"] for item in seen] == sorted(item["id"] for item in seen)


def test_a_rolled_back_change_leaves_no_event_and_calls_no_hook(app, admin, service_api):
    before = feed(service_api)["last_id"]
    product = admin.product("invoices")
    sent = next(status for status in product["statuses"] if status["name"] == "Sent")
    card = admin.card(product, "No amount")
    after_setup = feed(service_api, before)["last_id"]
    refused = admin.patch(f"cards/{card['id']}", {"title": "changed", "status_id": sent["id"]})
    assert refused.status_code == 422
    with app.app_context():
        session = get_db().session()
        with pytest.raises(RuntimeError), write_transaction(session):
            record_event(session, "card.updated", {**card, "changes": {}})  # a valid payload
            raise RuntimeError("the change fails after recording its event")
        session.close()
    assert feed(service_api, after_setup)["items"] == []


def test_a_long_poll_wakes_up_when_an_event_commits(admin, service_api):
    product = admin.product("sales")
    last = feed(service_api)["last_id"]
    result = {}

    def poll():
        started = time.monotonic()
        result["page"] = feed(service_api, last, wait=10)
        result["seconds"] = time.monotonic() - started

    reader = threading.Thread(target=poll)
    reader.start()
    time.sleep(0.3)
    admin.card(product, "wake up")
    reader.join(15)
    assert [item["type"] for item in result["page"]["items"]] == ["card.created"]
    assert result["seconds"] < 5


def test_a_long_poll_with_nothing_new_answers_empty_after_the_wait(service_api):
    newest = feed(service_api, 0)["newest_id"]
    started = time.monotonic()
    page = feed(service_api, newest, wait=0.5)
    assert page["items"] == [] and page["last_id"] == newest
    assert time.monotonic() - started >= 0.5


def test_a_long_poll_beyond_the_newest_event_answers_at_once(service_api):
    """A follower ahead of core (core restored from a backup) is told at once, not kept."""
    started = time.monotonic()
    page = feed(service_api, 10**9, wait=5)
    assert time.monotonic() - started < 2
    assert page["items"] == [] and page["newest_id"] < 10**9 and page["after_uid"] is None


def test_bad_feed_parameters_are_422(service_api):
    for query in ("after=-1", "limit=0", "limit=1001", "wait=31", "after=x"):
        assert service_api.get(f"events?{query}").status_code == 422


def test_a_reader_following_after_sees_every_event_once_under_concurrent_writers(
    app, admin, service_api
):
    """Writers commit late and out of id order; the reader must still miss nothing."""
    product = admin.product("sales")
    start = feed(service_api)["last_id"]
    with app.app_context():
        database = get_db()

    @sa_event.listens_for(database.sessions, "before_commit")
    def linger(session):
        # Runs after the outbox wrote the events: hold the transaction open a little.
        if session.info.get("linger"):
            time.sleep(random.uniform(0, 0.02))

    writers, per_writer = 4, 15
    errors = []

    def write(worker):
        from cardcrm.core.cards.service import create_card

        with app.app_context():
            for index in range(per_writer):
                session = database.session()
                session.info["linger"] = True
                try:
                    create_card(session, None, product["id"], {"title": f"w{worker}-{index}"})
                except Exception as error:  # noqa: BLE001 - reported below
                    errors.append(error)
                finally:
                    session.close()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(writers)]
    for thread in threads:
        thread.start()
    seen, after = [], start
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # Long-polling, as the sidecars follow the feed. (A reader asking in a loop with no
        # pause at all can starve SQLite's writers: WAL readers never leave a gap.)
        page = feed(service_api, after, limit=7, wait=1)
        seen += [item["id"] for item in page["items"]]
        after = page["last_id"]
        if len(seen) >= writers * per_writer and not any(thread.is_alive() for thread in threads):
            break
    for thread in threads:
        thread.join()
    sa_event.remove(database.sessions, "before_commit", linger)
    assert errors == []
    assert len(seen) == writers * per_writer
    assert seen == sorted(set(seen))


def test_a_service_token_may_act_for_a_user_and_the_change_is_theirs(app, client, admin, member):
    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="calendar")
        session.close()
    product = admin.product()
    admin.grant(product, member)
    card = admin.card(product)
    task = member.task(card, "2026-12-01T10:00:00Z")
    headers = {"Authorization": f"Bearer {token}", "X-Cardcrm-On-Behalf-Of": str(member.user.id)}
    closed = client.post(f"/api/v1/tasks/{task['id']}/close", json={}, headers=headers)
    assert closed.status_code == 200
    assert closed.get_json()["closed_by_id"] == member.user.id
    assert client.get("/api/v1/me", headers=headers).get_json()["id"] == member.user.id
    # Users may not act for each other, and the user must exist.
    as_user = {
        "Authorization": f"Bearer {member.token}",
        "X-Cardcrm-On-Behalf-Of": str(admin.user.id),
    }
    assert client.get("/api/v1/me", headers=as_user).status_code == 403
    headers["X-Cardcrm-On-Behalf-Of"] = "99999"
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_events_made_after_a_restore_reuse_integer_ids_but_never_uids(
    app, admin, service_api, database_url, tmp_path
):
    """Restoring a backup of core's database brings back its incarnation and newest id: the
    next events get the ids of events made after the backup, and new uids."""
    backup = SqliteBackup(database_url, tmp_path)
    product = admin.product("sales")
    backup.take()
    kept = feed(service_api, 0)
    admin.card(product, "Made before the restore")
    before = feed(service_api, kept["last_id"])
    backup.restore()
    admin.card(product, "Made after the restore")
    after = feed(service_api, kept["last_id"])

    assert before["incarnation"] == after["incarnation"] == kept["incarnation"]
    assert [event["id"] for event in after["items"]] == [event["id"] for event in before["items"]]
    assert not {event["uid"] for event in before["items"]} & {
        event["uid"] for event in after["items"]
    }
    # a follower at the end of `before` is told that the event at its cursor is another one
    cursor = before["items"][-1]
    page = feed(service_api, cursor["id"])
    assert page["after_uid"] == after["items"][-1]["uid"] != cursor["uid"]
