"""Logging in is throttled per account and client address, through the API and the web UI,
so that passwords cannot be guessed at speed (``cardcrm.core.auth.throttle``)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from cardcrm.common.timeutil import utcnow
from cardcrm.core.auth import service, throttle
from cardcrm.core.auth.models import LoginFailure
from sqlalchemy import func, select

from tests.conftest import get_db_from

ATTACKER = {"REMOTE_ADDR": "203.0.113.7"}
OFFICE = {"REMOTE_ADDR": "198.51.100.20"}


def log_in(anonymous, email, password, address=ATTACKER):
    return anonymous.post(
        "auth/token", {"email": email, "password": password}, environ_base=address
    )


def test_repeated_wrong_passwords_are_refused_for_a_while(anonymous, member):
    email = member.user.email
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert log_in(anonymous, email, "guess").status_code == 401
    refused = log_in(anonymous, email, "password123")  # even the right password now
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    retry_after = int(refused.headers["Retry-After"])
    assert 0 < retry_after <= throttle.WINDOW.total_seconds()
    assert refused.get_json()["retry_after"] == retry_after
    # The account is not locked for its owner elsewhere: the throttle is per address.
    assert log_in(anonymous, email, "password123", OFFICE).status_code == 201


def test_a_successful_login_forgets_the_failures_before_it(anonymous, member):
    email = member.user.email
    for _ in range(throttle.ACCOUNT_LIMIT - 1):
        assert log_in(anonymous, email, "typo").status_code == 401
    assert log_in(anonymous, email, "password123").status_code == 201
    for _ in range(throttle.ACCOUNT_LIMIT - 1):
        assert log_in(anonymous, email, "typo").status_code == 401
    assert log_in(anonymous, email, "password123").status_code == 201


def test_failures_older_than_the_window_do_not_count(app, anonymous, member, db_session):
    email = member.user.email
    long_ago = utcnow() - throttle.WINDOW - timedelta(seconds=1)
    db_session.add_all(
        LoginFailure(email=email, address=ATTACKER["REMOTE_ADDR"], at=long_ago)
        for _ in range(throttle.ACCOUNT_LIMIT)
    )
    db_session.commit()
    assert log_in(anonymous, email, "password123").status_code == 201


def test_one_address_trying_many_accounts_is_refused(app, anonymous, db_session):
    now = utcnow()
    db_session.add_all(
        LoginFailure(email=f"user{number}@example.com", address=ATTACKER["REMOTE_ADDR"], at=now)
        for number in range(throttle.ADDRESS_LIMIT)
    )
    db_session.commit()
    refused = log_in(anonymous, "someone.else@example.com", "guess")
    assert refused.status_code == 429
    assert "from your address" in refused.get_json()["detail"]
    assert log_in(anonymous, "someone.else@example.com", "guess", OFFICE).status_code == 401


def test_unknown_accounts_are_throttled_like_known_ones(anonymous):
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert log_in(anonymous, "nobody@example.com", "guess").status_code == 401
    assert log_in(anonymous, "nobody@example.com", "guess").status_code == 429


@pytest.mark.usefixtures("member")
def test_the_login_page_is_throttled_too(app):
    from tests.web.conftest import WebClient

    client = app.test_client()
    client.environ_base.update(ATTACKER)
    web = WebClient(client)
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert (
            web.post("/login", {"email": "member@example.com", "password": "x"}).status_code == 401
        )
    refused = web.post("/login", {"email": "member@example.com", "password": "password123"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed logins" in refused.get_data(as_text=True)
    assert web.get("/").headers["Location"].startswith("/login")  # not logged in


def test_parallel_wrong_logins_check_no_more_passwords_than_the_limit(app, member, monkeypatch):
    """Attempts sent at once count each other: the count and the record are one step."""
    checked = []
    real_check = service.check_password_hash

    def counting_check(hashed: str, password: str) -> bool:
        checked.append(password)
        return real_check(hashed, password)

    monkeypatch.setattr(service, "check_password_hash", counting_check)
    attempts = 20
    start = threading.Barrier(attempts)

    def guess(number: int) -> int:
        client = app.test_client()
        start.wait()
        body = {"email": member.user.email, "password": f"guess-{number}"}
        return client.post("/api/v1/auth/token", json=body, environ_base=ATTACKER).status_code

    with ThreadPoolExecutor(attempts) as pool:
        statuses = list(pool.map(guess, range(attempts)))

    assert len(checked) == throttle.ACCOUNT_LIMIT
    assert sorted(statuses) == [401] * throttle.ACCOUNT_LIMIT + [429] * (
        attempts - throttle.ACCOUNT_LIMIT
    )
    session = get_db_from(app).session()
    assert session.scalar(select(func.count(LoginFailure.id))) == throttle.ACCOUNT_LIMIT
    session.close()
