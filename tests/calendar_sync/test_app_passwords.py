"""App passwords for the CalDAV server: a user makes one per device on the calendar page (the
API), sees it once, and the device signs in with the user's e-mail and it over HTTP Basic;
never with the account password, never over plain http from another machine, and failed
sign-ins are throttled as core's logins are."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cardcrm.calendar_sync import create_app
from cardcrm.calendar_sync.dav import throttle
from cardcrm.calendar_sync.dav.auth import DavAuthError, dav_user, is_loopback
from flask import jsonify

from .conftest import PUBLIC_URL, CalendarService

WHOAMI = "/tests/dav-whoami"
HTTPS = {"base_url": "https://crm.example.com"}
ELSEWHERE = "203.0.113.7"


class Clock:
    """The service's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def whoami_service(calendar_settings: dict[str, Any], member: Any, clock: Clock) -> Any:
    """The calendar service with a stand-in DAV resource that answers who signed in."""
    app = create_app({**calendar_settings, "CLOCK": clock})

    def whoami() -> Any:
        try:
            user = dav_user()
        except DavAuthError as error:
            response = jsonify(status=error.status, detail=error.message)
            response.status_code = error.status
            response.headers.update(error.headers)
            return response
        return jsonify(user)

    app.add_url_rule(WHOAMI, "dav_whoami", whoami, methods=["GET", "PROPFIND"])
    return CalendarService(app, type(member))


@pytest.fixture
def dav(calendar_settings: dict[str, Any], member: Any, clock: Clock) -> Any:
    service = whoami_service(calendar_settings, member, clock)
    yield service
    service.sync_worker.close()
    service.context.close()


def basic(email: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def sign_in(service: Any, email: str, password: str, address: str = "127.0.0.1", **options: Any):
    return service.client.open(
        WHOAMI,
        method="PROPFIND",
        headers=basic(email, password),
        environ_base={"REMOTE_ADDR": address},
        **options,
    )


def make_password(service: Any, user: Any, name: str = "Ana's iPhone") -> dict:
    return service.api(user).ok("POST", "app-passwords", {"name": name}, status=201)


def test_an_app_password_is_shown_once_and_listed_without_its_secret(dav, member):
    made = make_password(dav, member)

    assert made["name"] == "Ana's iPhone"
    assert made["username"] == "member@example.com"
    assert made["url"] == f"{PUBLIC_URL}/dav/"
    assert len(made["password"].replace("-", "")) == 24
    assert made["last_used_at"] is None
    listed = dav.api(member).ok("GET", "app-passwords")["items"]
    assert [item["id"] for item in listed] == [made["id"]]
    assert "password" not in listed[0]
    assert made["password"] not in str(listed)
    assert listed[0]["username"] == "member@example.com"


def test_a_device_signs_in_with_the_email_and_its_app_password(dav, member):
    made = make_password(dav, member)

    response = sign_in(dav, "member@example.com", made["password"])

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == member.user.id
    assert response.get_json()["email"] == "member@example.com"


def test_the_email_is_case_insensitive_and_the_password_forgives_dashes_and_capitals(dav, member):
    password = make_password(dav, member)["password"]

    assert sign_in(dav, "  Member@EXAMPLE.com", password).status_code == 200
    typed = password.replace("-", " ").upper()
    assert sign_in(dav, "member@example.com", typed).status_code == 200


def test_the_account_password_never_signs_in(dav, member):
    make_password(dav, member)

    response = sign_in(dav, "member@example.com", "password123")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="cardcrm", charset="UTF-8"'


def test_without_credentials_the_server_asks_for_basic(dav):
    response = dav.client.open(WHOAMI, method="PROPFIND")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="cardcrm"')
    bearer = dav.client.open(WHOAMI, method="PROPFIND", headers={"Authorization": "Bearer x"})
    assert bearer.status_code == 401
    garbage = dav.client.open(WHOAMI, headers={"Authorization": "Basic %%%not-base64"})
    assert garbage.status_code == 401


def test_one_users_password_does_not_open_another_users_account(dav, member, new_user):
    other = new_user("other@example.com")
    password = make_password(dav, other)["password"]

    assert sign_in(dav, "member@example.com", password).status_code == 401
    assert sign_in(dav, "other@example.com", password).get_json()["id"] == other.user.id


def test_a_revoked_password_stops_at_once(dav, member):
    made = make_password(dav, member)
    kept = make_password(dav, member, "Laptop")
    assert sign_in(dav, "member@example.com", made["password"]).status_code == 200

    dav.api(member).ok("DELETE", f"app-passwords/{made['id']}", status=204)

    assert sign_in(dav, "member@example.com", made["password"]).status_code == 401
    assert sign_in(dav, "member@example.com", kept["password"]).status_code == 200
    listed = dav.api(member).ok("GET", "app-passwords")["items"]
    assert [item["name"] for item in listed] == ["Laptop"]
    # Revoked once is gone: a second revoke is a 404.
    assert dav.api(member).delete(f"app-passwords/{made['id']}").status_code == 404


def test_another_users_password_cannot_be_revoked_or_seen(dav, member, new_user):
    other = new_user("other@example.com")
    theirs = make_password(dav, other)

    response = dav.api(member).delete(f"app-passwords/{theirs['id']}")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert dav.api(member).ok("GET", "app-passwords")["items"] == []
    assert sign_in(dav, "other@example.com", theirs["password"]).status_code == 200


def test_last_used_is_recorded_at_most_once_a_minute(dav, member, clock):
    made = make_password(dav, member)
    first_use = clock.now

    sign_in(dav, "member@example.com", made["password"])
    clock.advance(seconds=30)
    sign_in(dav, "member@example.com", made["password"])

    def last_used() -> str:
        return dav.api(member).ok("GET", "app-passwords")["items"][0]["last_used_at"]

    assert last_used() == first_use.isoformat().replace("+00:00", "Z")
    clock.advance(seconds=31)
    sign_in(dav, "member@example.com", made["password"])
    assert last_used() == clock.now.isoformat().replace("+00:00", "Z")


def test_wrong_passwords_are_throttled_per_account_and_address(dav, member, clock):
    password = make_password(dav, member)["password"]
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert sign_in(dav, "member@example.com", "wrong-guess").status_code == 401

    refused = sign_in(dav, "member@example.com", password)

    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    # Another address still signs in: the throttle is no way to lock the user out.
    assert sign_in(dav, "member@example.com", password, ELSEWHERE, **HTTPS).status_code == 200
    # Once the window has passed, the right password works again.
    clock.advance(minutes=15, seconds=1)
    assert sign_in(dav, "member@example.com", password).status_code == 200
    # A success forgets the failures before it: a few typos a day never add up to a refusal.
    for _round in range(2):
        for _ in range(throttle.ACCOUNT_LIMIT - 1):
            assert sign_in(dav, "member@example.com", "wrong-guess").status_code == 401
        assert sign_in(dav, "member@example.com", password).status_code == 200


def test_a_refusal_made_by_another_process_counts_at_once(dav, member, clock, calendar_settings):
    """Two app instances on one database (two workers of a site): the one that saw no failure
    still reads the other's at the next request."""
    password = make_password(dav, member)["password"]
    assert sign_in(dav, "member@example.com", password).status_code == 200
    other = whoami_service(calendar_settings, member, clock)
    try:
        for _ in range(throttle.ACCOUNT_LIMIT):
            assert sign_in(other, "member@example.com", "wrong-guess").status_code == 401

        assert sign_in(dav, "member@example.com", password).status_code == 429
    finally:
        other.sync_worker.close()
        other.context.close()


def test_plain_http_from_another_machine_is_refused(dav, member):
    password = make_password(dav, member)["password"]

    refused = sign_in(dav, "member@example.com", password, ELSEWHERE)

    assert refused.status_code == 403
    assert "https" in refused.get_json()["detail"]
    assert sign_in(dav, "member@example.com", password, ELSEWHERE, **HTTPS).status_code == 200
    assert sign_in(dav, "member@example.com", password, "::1").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_scheme_and_address_count(dav, member):
    from cardcrm.common.proxy import behind_proxies

    password = make_password(dav, member)["password"]
    dav.app.wsgi_app = behind_proxies(dav.app.wsgi_app, 1)
    forwarded_http = {"X-Forwarded-For": ELSEWHERE, "X-Forwarded-Proto": "http"}
    forwarded_https = {"X-Forwarded-For": ELSEWHERE, "X-Forwarded-Proto": "https"}

    def through_proxy(forwarded: dict[str, str]) -> Any:
        return dav.client.open(
            WHOAMI,
            method="PROPFIND",
            headers={**basic("member@example.com", password), **forwarded},
        )

    # nginx on this machine, but the client is elsewhere and came over http.
    assert through_proxy(forwarded_http).status_code == 403
    assert through_proxy(forwarded_https).status_code == 200


def test_an_untrusted_local_proxy_serving_plain_http_is_no_local_client(dav, member):
    """nginx on this machine without CARDCRM_TRUSTED_PROXIES: every request comes from
    loopback, and only the proxy's own headers tell a phone over plain http from a laptop."""
    password = make_password(dav, member)["password"]

    def through(headers: dict[str, str]) -> int:
        return dav.client.open(
            WHOAMI,
            method="PROPFIND",
            headers={**basic("member@example.com", password), **headers},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).status_code

    assert through({"X-Forwarded-For": ELSEWHERE, "X-Forwarded-Proto": "http"}) == 403
    assert through({"X-Forwarded-For": ELSEWHERE}) == 403
    assert through({"Forwarded": f"for={ELSEWHERE}"}) == 403
    assert through({"X-Forwarded-For": ELSEWHERE, "X-Forwarded-Proto": "https"}) == 200
    assert through({}) == 200


def test_the_app_password_api_needs_a_users_token(dav, core_server):
    for method, path in [
        ("POST", "/api/v1/app-passwords"),
        ("GET", "/api/v1/app-passwords"),
        ("DELETE", "/api/v1/app-passwords/1"),
    ]:
        assert dav.client.open(path, method=method).status_code == 401
        service = {"Authorization": f"Bearer {core_server.service_token}"}
        assert dav.client.open(path, method=method, headers=service).status_code == 401


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}, []])
def test_a_device_needs_a_name(dav, member, body):
    response = dav.api(member).post("app-passwords", body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert dav.api(member).ok("GET", "app-passwords")["items"] == []


def test_the_operations_are_in_the_openapi_document(dav):
    paths = dav.client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/app-passwords"])
    assert "delete" in paths["/api/v1/app-passwords/{password_id}"]


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("203.0.113.7", False),
        ("::ffff:203.0.113.7", False),
        ("", False),
        ("unix:", False),
    ],
)
def test_loopback_is_this_machine_only(address, loopback):
    assert is_loopback(address) is loopback
