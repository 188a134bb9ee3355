"""Web sessions live on the server (``cardcrm.core.auth.sessions``): logging out, ending a
session from another browser, a new password and time itself end them, and a copied cookie
then opens nothing, not even a new API token. The cookie is Secure over https."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from cardcrm.common.proxy import behind_proxies
from cardcrm.common.timeutil import utcnow
from cardcrm.core.auth.models import ApiToken, WebSession
from cardcrm.core.auth.sessions import Lifetimes
from sqlalchemy import select, update

from tests.conftest import Api, get_db_from, make_user
from tests.web.conftest import WebClient

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def rows(app):
    """A session of the app's database outside any request (``db_session`` keeps an app
    context open, which every request would then share)."""
    session = get_db_from(app).session()
    yield session
    session.close()


def browser(app, email: str, user_agent: str = FIREFOX, address: str = "192.0.2.10"):
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    return WebClient(client).log_in(email)


def cookie_of(web: WebClient) -> str:
    return web.client.get_cookie("cardcrm_session").value


def copy_of(app, web: WebClient) -> WebClient:
    """Another computer holding a copy of the browser's session cookie."""
    thief = app.test_client()
    thief.set_cookie("cardcrm_session", cookie_of(web))
    copy = WebClient(thief)
    copy.get("/help")  # its pages carry the session's CSRF token
    return copy


def token_of(web: WebClient) -> str:
    answer = web.htmx("/session/api-token")
    assert answer.status_code == 200, answer.status_code
    return answer.get_json()["token"]


def me(client, token: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def logged_in(web: WebClient) -> bool:
    return web.get("/").status_code == 200


def set_session(rows, web: WebClient, **values) -> None:
    """Move a session in time by editing its row, as the passing days would."""
    from cardcrm.core.auth.sessions import hash_secret

    rows.execute(
        update(WebSession)
        .where(WebSession.secret_hash == hash_secret(cookie_of(web)))
        .values(**values)
    )
    rows.commit()


# --- logging out ----------------------------------------------------------------------------------


def test_a_copied_cookie_opens_nothing_after_logout(app, admin):
    mine = browser(app, admin.user.email)
    copy = copy_of(app, mine)
    assert logged_in(copy)  # the copy works while the session lives...
    stolen_token = token_of(copy)

    assert mine.post("/logout").status_code == 302

    assert not logged_in(copy)  # ...and not after logout
    copy.get("/login")  # a fresh CSRF token, so that only the session is missing
    refused = copy.htmx("/session/api-token")
    assert refused.status_code == 401 and "HX-Redirect" in refused.headers
    plain = copy.client.post("/session/api-token", headers={"X-CSRF-Token": copy.token})
    assert plain.status_code == 302 and plain.headers["Location"].startswith("/login")
    assert me(copy.client, stolen_token) == 401  # the session's token ended with it
    assert not logged_in(mine)


def test_the_cookie_holds_only_an_opaque_id_and_the_database_only_its_hash(app, admin, rows):
    web = browser(app, admin.user.email)
    secret = cookie_of(web)
    token = token_of(web)
    assert token not in secret and len(secret) >= 40
    kept = rows.scalars(select(WebSession)).all()
    assert len(kept) == 1 and secret not in (kept[0].secret_hash, kept[0].csrf_token)
    assert token not in rows.scalars(select(ApiToken.token_hash)).all()


def test_a_cookie_from_before_server_side_sessions_logs_no_one_in(app, admin):
    old = app.test_client()
    # What Flask's signed cookie looked like (user id, password fingerprint, CSRF token).
    old.set_cookie("cardcrm_session", "eyJhdXRoIjoiYWJjIiwidXNlcl9pZCI6MX0.Z1b2cw.c2lnbmF0dXJl")
    answer = old.get("/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert "cardcrm_session=;" in answer.headers["Set-Cookie"]  # dropped


# --- lifetimes ------------------------------------------------------------------------------------


def test_a_session_ends_after_its_idle_time(app, admin, rows):
    app.config["SESSION_IDLE_HOURS"] = 2
    web = browser(app, admin.user.email)
    token = token_of(web)
    set_session(rows, web, last_seen_at=utcnow() - timedelta(hours=1, minutes=59))
    assert logged_in(web)  # used within two hours: still in, and seen again just now
    set_session(rows, web, last_seen_at=utcnow() - timedelta(hours=2, minutes=1))
    assert me(web.client, token) == 401
    assert not logged_in(web)
    assert rows.scalar(select(WebSession.id)) is None  # the ended row is gone


def test_a_session_ends_after_its_absolute_lifetime_however_busy(app, admin, rows):
    app.config["SESSION_MAX_DAYS"] = 7
    web = browser(app, admin.user.email)
    token = token_of(web)
    set_session(rows, web, created_at=utcnow() - timedelta(days=6, hours=23))
    assert logged_in(web)
    set_session(rows, web, created_at=utcnow() - timedelta(days=7, minutes=1))
    assert me(web.client, token) == 401
    assert not logged_in(web)


def test_the_defaults_are_three_days_idle_and_thirty_days_at_most(app, admin, rows):
    assert Lifetimes.of(app.config) == Lifetimes(timedelta(hours=72), timedelta(days=30))
    web = browser(app, admin.user.email)
    set_session(rows, web, last_seen_at=utcnow() - timedelta(hours=71))  # a weekend
    assert logged_in(web)
    set_session(rows, web, last_seen_at=utcnow() - timedelta(hours=73))
    assert not logged_in(web)


def test_last_use_is_written_at_most_once_a_minute(app, admin, rows):
    web = browser(app, admin.user.email)
    half_a_minute_ago = utcnow() - timedelta(seconds=30)
    set_session(rows, web, last_seen_at=half_a_minute_ago)
    web.get("/")
    rows.expire_all()
    assert rows.scalar(select(WebSession.last_seen_at)) == half_a_minute_ago
    set_session(rows, web, last_seen_at=utcnow() - timedelta(minutes=5))
    web.get("/")
    rows.expire_all()
    assert utcnow() - rows.scalar(select(WebSession.last_seen_at)) < timedelta(seconds=10)


def test_the_cookie_lasts_until_the_session_must_end(app, admin):
    app.config["SESSION_MAX_DAYS"] = 7
    client = app.test_client()
    web = WebClient(client)
    answer = web.post("/login", {"email": admin.user.email, "password": "password123"})
    cookie = next(
        value for value in answer.headers.getlist("Set-Cookie") if "cardcrm_session=" in value
    )
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert abs(expires - (utcnow() + timedelta(days=7))) < timedelta(minutes=1)


# --- seeing and ending one's sessions ------------------------------------------------------------


def test_a_user_lists_their_sessions_and_ends_another_through_the_api(app, admin, member):
    laptop = browser(app, admin.user.email, FIREFOX, "192.0.2.10")
    phone = browser(app, admin.user.email, SAFARI, "198.51.100.7")
    browser(app, member.user.email)  # someone else's: never listed

    listed = admin.ok("GET", "sessions")["items"]
    assert [item["device"] for item in listed] == ["Safari on iOS", "Firefox on Linux"]
    assert [item["address"] for item in listed] == ["198.51.100.7", "192.0.2.10"]
    assert not any(item["current"] for item in listed)  # a plain token is no session
    first = listed[1]
    assert first["user_agent"] == FIREFOX
    assert set(first) >= {"id", "created_at", "last_seen_at", "expires_at"}

    from_laptop = Api(admin.client, token_of(laptop))
    seen = from_laptop.ok("GET", "sessions")["items"]
    assert [item["current"] for item in seen] == [False, True]

    assert member.delete(f"sessions/{listed[0]['id']}").status_code == 404  # not theirs
    assert logged_in(phone)
    assert from_laptop.delete(f"sessions/{listed[0]['id']}").status_code == 204
    assert not logged_in(phone)
    assert logged_in(laptop)
    assert admin.delete(f"sessions/{listed[0]['id']}").status_code == 404  # gone already
    assert [item["id"] for item in admin.ok("GET", "sessions")["items"]] == [first["id"]]


def test_the_profile_page_lists_sessions_and_ends_them(app, admin):
    laptop = browser(app, admin.user.email, FIREFOX)
    phone = browser(app, admin.user.email, SAFARI)
    tablet = browser(app, admin.user.email, "curl/8.5")
    page = laptop.get("/profile").get_data(as_text=True)
    assert "Firefox on Linux" in page and "Safari on iOS" in page and "curl/8.5" in page
    assert "this browser" in page
    assert page.count(">End</button>") == 2  # not for this browser: logging out does that

    phone_id = next(
        item["id"]
        for item in admin.ok("GET", "sessions")["items"]
        if item["device"] == "Safari on iOS"
    )
    ended = laptop.post(f"/profile/sessions/{phone_id}/end")
    assert ended.status_code == 302
    assert not logged_in(phone) and logged_in(tablet) and logged_in(laptop)

    assert laptop.post("/profile/sessions/end-others").status_code == 302
    assert not logged_in(tablet) and logged_in(laptop)
    assert len(admin.ok("GET", "sessions")["items"]) == 1


def test_ending_a_session_needs_the_csrf_token(app, admin):
    laptop = browser(app, admin.user.email)
    phone = browser(app, admin.user.email, SAFARI)
    phone_id = admin.ok("GET", "sessions")["items"][0]["id"]
    forged = laptop.post(f"/profile/sessions/{phone_id}/end", csrf=False)
    assert forged.status_code == 403
    assert logged_in(phone)


# --- a new password -------------------------------------------------------------------------------


def test_a_new_password_through_the_api_needs_the_current_one(app, admin, anonymous):
    laptop = browser(app, admin.user.email)
    phone = browser(app, admin.user.email, SAFARI)
    from_laptop = Api(admin.client, token_of(laptop))

    missing = from_laptop.patch("me", {"password": "brand-new-secret"})
    assert missing.status_code == 422
    assert "current_password" in missing.get_json()["errors"]
    wrong = from_laptop.patch(
        "me", {"password": "brand-new-secret", "current_password": "not-it-at-all"}
    )
    assert wrong.status_code == 403
    assert wrong.get_json()["errors"] == {
        "current_password": ["This is not your current password."]
    }
    assert logged_in(phone)  # nothing changed
    login = {"email": admin.user.email, "password": "password123"}
    assert anonymous.post("auth/token", login).status_code == 201

    changed = from_laptop.patch(
        "me", {"password": "brand-new-secret", "current_password": "password123"}
    )
    assert changed.status_code == 200
    assert not logged_in(phone)  # the other session ended...
    assert logged_in(laptop)  # ...not the one the change came from
    assert admin.get("me").status_code == 200  # tokens stay unless asked
    assert anonymous.post("auth/token", login).status_code == 401
    assert (
        anonymous.post("auth/token", {**login, "password": "brand-new-secret"}).status_code == 201
    )


def test_a_new_password_with_a_plain_token_ends_every_web_session(app, admin):
    laptop = browser(app, admin.user.email)
    admin.ok("PATCH", "me", {"password": "brand-new-secret", "current_password": "password123"})
    assert not logged_in(laptop)


def test_a_new_password_can_revoke_every_api_token(app, admin):
    laptop = browser(app, admin.user.email)
    laptop_token = token_of(laptop)
    made = admin.ok("POST", "tokens", {"name": "script"}, status=201)["token"]
    body = {"password": "brand-new-secret", "current_password": "password123"}
    assert admin.patch("me", {"revoke_tokens": True}).status_code == 422  # only with a password
    assert (
        Api(admin.client, laptop_token).ok("PATCH", "me", {**body, "revoke_tokens": True})["id"]
        == admin.user.id
    )
    assert me(admin.client, made) == 401
    assert admin.get("me").status_code == 401
    assert me(admin.client, laptop_token) == 200  # the session it came from keeps its token
    assert logged_in(laptop)


def test_wrong_current_passwords_are_throttled_like_logins(app, admin):
    from cardcrm.core.auth import throttle

    body = {"password": "brand-new-secret", "current_password": "guess"}
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert admin.patch("me", body).status_code == 403
    assert admin.patch("me", {**body, "current_password": "password123"}).status_code == 429


def test_the_profile_page_asks_for_the_current_password(app, admin):
    laptop = browser(app, admin.user.email)
    phone = browser(app, admin.user.email, SAFARI)
    form = {"name": admin.user.name, "timezone": "UTC", "password": "brand-new-secret"}

    missing = laptop.post("/profile", form)
    assert missing.status_code == 422
    page = missing.get_data(as_text=True)
    assert 'id="error-current_password"' in page and "Enter your current password" in page

    wrong = laptop.post("/profile", {**form, "current_password": "not-it-at-all"})
    assert wrong.status_code == 403
    page = wrong.get_data(as_text=True)
    assert 'id="error-current_password"' in page and "not your current password" in page
    assert logged_in(phone)

    saved = laptop.post("/profile", {**form, "current_password": "password123"})
    assert saved.status_code == 302
    assert "Your other sessions have ended." in laptop.get("/profile").get_data(as_text=True)
    assert not logged_in(phone) and logged_in(laptop)
    assert admin.get("me").status_code == 200


def test_the_profile_page_can_revoke_the_api_tokens_with_a_new_password(app, admin):
    laptop = browser(app, admin.user.email)
    laptop_token = token_of(laptop)
    form = {
        "name": admin.user.name,
        "timezone": "UTC",
        "password": "brand-new-secret",
        "current_password": "password123",
        "revoke_tokens": "1",
    }
    assert laptop.post("/profile", form).status_code == 302
    assert admin.get("me").status_code == 401
    assert me(admin.client, laptop_token) == 200
    assert logged_in(laptop)


# --- Secure -----------------------------------------------------------------------------------


def login_cookies(app, base_url: str = "http://localhost", headers: dict | None = None):
    client = app.test_client()
    client.get("/login", base_url=base_url, headers=headers)
    with client.session_transaction(base_url=base_url) as flask_session:
        csrf = flask_session["csrf"]
    answer = client.post(
        "/login",
        data={"email": "admin@example.com", "password": "password123", "csrf_token": csrf},
        base_url=base_url,
        headers=headers,
    )
    assert answer.status_code == 302
    cookies = {value.split("=")[0]: value for value in answer.headers.getlist("Set-Cookie")}
    return cookies


@pytest.mark.usefixtures("admin")
def test_the_session_cookie_is_secure_over_https(app):
    plain = login_cookies(app)["cardcrm_session"]
    assert "Secure" not in plain and "HttpOnly" in plain and "SameSite=Lax" in plain
    secure = login_cookies(app, "https://crm.example.com")
    assert "; Secure" in secure["cardcrm_session"]
    assert "; Secure" in secure["cardcrm_flash"]


@pytest.mark.usefixtures("admin")
def test_the_session_cookie_is_secure_behind_a_trusted_proxy_speaking_https(app):
    forwarded = {"X-Forwarded-Proto": "https"}
    assert "Secure" not in login_cookies(app, headers=forwarded)["cardcrm_session"]  # untrusted
    app.wsgi_app = behind_proxies(app.wsgi_app, 1)
    assert "; Secure" in login_cookies(app, headers=forwarded)["cardcrm_session"]


def test_the_session_cookie_is_secure_when_the_public_url_is_https(app_config):
    from cardcrm.core import create_app

    app = create_app({**app_config, "PUBLIC_URL": "https://crm.example.com"})
    make_user(app, "admin@example.com", admin=True)
    cookies = login_cookies(app)  # over http: a proxy that says nothing
    assert "; Secure" in cookies["cardcrm_session"] and "; Secure" in cookies["cardcrm_flash"]
    get_db_from(app).dispose()
