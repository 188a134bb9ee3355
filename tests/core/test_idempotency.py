"""A POST retried with the same Idempotency-Key is done once and answered as the first time."""

from __future__ import annotations

import pytest
from cardcrm.common import idempotency
from cardcrm.common.db import get_db
from cardcrm.core.base import IdempotencyKey
from sqlalchemy import select, update


def test_a_retried_create_makes_one_card_and_gets_the_first_answer(admin):
    product = admin.product()
    path = f"products/{product['id']}/cards"
    headers = {"Idempotency-Key": "create-acme-1"}
    first = admin.post(path, {"title": "ACME"}, headers=headers)
    again = admin.post(path, {"title": "ACME"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    titles = [card["title"] for card in admin.ok("GET", path)["items"]]
    assert titles == ["ACME"]
    # Another key is another request.
    admin.ok("POST", path, {"title": "ACME"}, headers={"Idempotency-Key": "create-acme-2"})
    assert len(admin.ok("GET", path)["items"]) == 2


def test_a_retried_task_action_is_done_once(admin):
    card = admin.card(admin.product())
    task = admin.task(card, "2027-01-04T10:00:00Z")
    headers = {"Idempotency-Key": "postpone-1"}
    body = {"due": "2027-01-05T10:00:00Z"}
    first = admin.post(f"tasks/{task['id']}/postpone", body, headers=headers)
    again = admin.post(f"tasks/{task['id']}/postpone", body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    history = admin.ok("GET", f"cards/{card['id']}/history")["items"]
    assert [item["type"] for item in history].count("task.postponed") == 1


def test_a_key_is_the_callers_own(admin, member):
    admin.grant(product := admin.product(), member)
    path = f"products/{product['id']}/cards"
    headers = {"Idempotency-Key": "same-key"}
    admin.ok("POST", path, {"title": "admin's"}, headers=headers, status=201)
    theirs = member.post(path, {"title": "member's"}, headers=headers)
    assert theirs.status_code == 201 and theirs.get_json()["title"] == "member's"


def test_a_key_reused_for_another_request_is_refused(admin):
    product = admin.product()
    path = f"products/{product['id']}/cards"
    headers = {"Idempotency-Key": "k1"}
    admin.ok("POST", path, {"title": "one"}, headers=headers, status=201)
    other = admin.post(path, {"title": "two"}, headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.get_json()["errors"]
    assert len(admin.ok("GET", path)["items"]) == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 201, "tab\there"])
def test_a_malformed_key_is_a_400(admin, key):
    product = admin.product()
    response = admin.post(
        f"products/{product['id']}/cards", {"title": "x"}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert admin.ok("GET", f"products/{product['id']}/cards")["items"] == []


def test_a_failed_request_leaves_no_key_and_can_be_sent_again(admin):
    product = admin.product()
    path = f"products/{product['id']}/cards"
    headers = {"Idempotency-Key": "fix-and-retry"}
    assert admin.post(path, {"title": ""}, headers=headers).status_code == 422
    retried = admin.post(path, {"title": ""}, headers=headers)
    assert retried.status_code == 422 and "Idempotent-Replayed" not in retried.headers


def test_a_change_whose_answer_was_lost_is_not_made_again(app, admin):
    product = admin.product()
    path = f"products/{product['id']}/cards"
    headers = {"Idempotency-Key": "lost-answer"}
    admin.ok("POST", path, {"title": "once"}, headers=headers, status=201)
    # As if core stopped after committing the change and before storing the answer.
    with app.app_context():
        session = get_db().session()
        session.execute(update(IdempotencyKey).values(status=None, body=None))
        session.commit()
        session.close()
    again = admin.post(path, {"title": "once"}, headers=headers)
    assert again.status_code == 409
    assert "answer was lost" in again.get_json()["detail"]
    assert len(admin.ok("GET", path)["items"]) == 1


def test_keys_expire(app, admin):
    product = admin.product()
    path = f"products/{product['id']}/cards"
    headers = {"Idempotency-Key": "old"}
    admin.ok("POST", path, {"title": "first"}, headers=headers, status=201)
    with app.app_context():
        session = get_db().session()
        key = session.scalar(select(IdempotencyKey))
        key.created_at -= idempotency.KEEP
        session.commit()
        session.close()
    admin.ok("POST", path, {"title": "first"}, headers=headers, status=201)
    assert len(admin.ok("GET", path)["items"]) == 2
