"""The token check keeps what it built per process, yet a revocation counts at once everywhere.

A second core runs as a real process (``cardcrm serve core``) on the test's database; it has
answered the token before (so anything it keeps is warm) when this process revokes it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cardcrm.common.db import get_db
from cardcrm.core.auth import sessions
from cardcrm.core.auth.models import WebSession
from cardcrm.core.auth.service import browser_token, user_for_token
from sqlalchemy import event, inspect, select

from tests.cardcrm_up import cardcrm_serve
from tests.conftest import make_user


class OtherProcess:
    """``cardcrm serve core`` on the same database: another process with its own caches."""

    def __init__(self, url: str) -> None:
        self.url = url

    def status(
        self, token: str, path: str = "/api/v1/me", method: str = "GET", body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture
def other_process(database_url: str, tmp_path: Path) -> Iterator[OtherProcess]:
    with cardcrm_serve(
        "core",
        tmp_path / "other",
        CARDCRM_DATABASE_URL=database_url,
        CARDCRM_SECRET_KEY="another-process-secret-key-0123456789",
    ) as base:
        yield OtherProcess(base)


def test_a_token_revoked_here_is_refused_at_once_by_another_process(
    app, admin, member, other_process
):
    second = admin.ok("POST", "tokens", {"name": "second"}, status=201)
    for _ in range(3):  # answered, and answered again: whatever it keeps is warm
        assert other_process.status(member.token)[0] == 200
        assert other_process.status(second["token"])[0] == 200

    member_token = member.ok("GET", "tokens")["items"][0]
    member.ok("DELETE", f"tokens/{member_token['id']}", status=204)
    status, problem = other_process.status(member.token)
    assert status == 401, problem
    admin.ok("DELETE", f"tokens/{second['id']}", status=204)
    assert other_process.status(second["token"])[0] == 401
    assert other_process.status(admin.token)[0] == 200


def test_a_new_password_with_revoked_tokens_is_refused_at_once_by_another_process(
    app, member, other_process
):
    assert other_process.status(member.token)[0] == 200
    member.ok(
        "PATCH",
        "me",
        {
            "password": "a-new-password-456",
            "current_password": "password123",
            "revoke_tokens": True,
        },
    )
    assert other_process.status(member.token)[0] == 401


def test_a_changed_profile_is_seen_at_once_by_another_process(app, member, other_process):
    assert other_process.status(member.token)[1]["language"] is None
    member.ok("PATCH", "me", {"name": "Renamed", "language": "ro"})
    status, me = other_process.status(member.token)
    assert (status, me["name"], me["language"]) == (200, "Renamed", "ro")


def test_a_browser_token_is_refused_at_once_once_its_session_ends(app, other_process):
    user, _ = make_user(app, "browser@example.com")
    with app.app_context():
        session = get_db().session()
        secret, web_session = sessions.start(session, user, sessions.Lifetimes())
        token = browser_token(session, web_session, secret)
        assert other_process.status(token)[0] == 200
        assert other_process.status(token)[0] == 200
        sessions.end(session, web_session.id)
        session.close()
    assert other_process.status(token)[0] == 401


def test_a_deleted_user_is_refused_at_once_by_another_process(app, member, other_process):
    assert other_process.status(member.token)[0] == 200
    with app.app_context():
        session = get_db().session()
        with session.begin():
            session.delete(session.get(type(member.user), member.user.id))
        session.close()
    assert other_process.status(member.token)[0] == 401


def test_a_browser_tokens_check_is_one_query_and_its_user_belongs_to_the_session(app):
    user, _ = make_user(app, "one-query@example.com")
    with app.app_context():
        session = get_db().session()
        secret, web_session = sessions.start(session, user, sessions.Lifetimes())
        token = browser_token(session, web_session, secret)
        session.close()
        statements: list[str] = []

        def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if not statement.startswith("BEGIN"):
                statements.append(statement)

        engine = get_db().engine
        event.listen(engine, "before_cursor_execute", remember)
        try:
            for _ in range(2):
                session = get_db().session()
                principal = user_for_token(session, token)
                assert principal is not None and principal.user is not None
                assert principal.web_session_id == web_session.id
                assert principal.user in session  # its own copy, saved with the session's
                assert principal.user.email == "one-query@example.com"
                first = principal.user
                session.close()
        finally:
            event.remove(engine, "before_cursor_execute", remember)
        # The token, its user and its web session together; nothing else (twice).
        assert len(statements) == 2, statements
        session = get_db().session()
        again = user_for_token(session, token)
        assert again is not None and again.user is not first
        assert session.scalar(select(WebSession.id)) == web_session.id
        session.close()


def test_a_membership_changed_here_counts_at_once_in_another_process(
    app, admin, member, other_process
):
    """The memberships come with the token (one statement): a process that let the member
    edit a card before refuses the next edit once they are limited to own cards or removed."""
    product = admin.product("sales")
    admin.grant(product, member)
    card = admin.card(product, "Someone else's", owner_id=admin.user.id)
    path = f"/api/v1/cards/{card['id']}"

    def edit(title: str) -> int:
        return other_process.status(member.token, path, "PATCH", {"title": title})[0]

    for number in range(3):
        assert edit(f"Edited {number}") == 200
    members = f"products/{product['id']}/members"
    limited = {"user_id": member.user.id, "own_cards_only": True}
    admin.ok("PUT", members, {"items": [limited]})
    assert edit("Limited") == 404
    admin.ok("PUT", members, {"items": [{**limited, "own_cards_only": False}]})
    assert edit("Whole again") == 200
    admin.ok("PUT", members, {"items": []})
    assert edit("Removed") == 404
    assert admin.ok("GET", f"cards/{card['id']}")["title"] == "Whole again"


def test_an_answer_from_memory_makes_no_session_and_a_write_changes_its_own_copy_of_the_caller(
    app, admin, member
):
    """The Today view and a card list answered from memory need no session: on PostgreSQL
    the token check reads on a pooled connection of its own, and none is made; on SQLite it
    reads in the session's transaction, as every read of the request does. A request that
    changes its caller changes its session's copy: the copy the process keeps for the token is
    never in a session and keeps what the token's row said, for the requests that share it."""
    from cardcrm.core.auth import service

    product = admin.product("sales")
    admin.grant(product, member)
    admin.card(product, "Kept")
    with app.app_context():
        database = get_db()
    made: list[Any] = []
    database.session_made.append(made.append)
    try:
        for api in (admin, member):
            paths = ("today", f"products/{product['id']}/cards")
            for path in paths:
                api.ok("GET", path)  # made, and kept
            made.clear()
            for path in paths:
                assert api.ok("GET", path)
            assert len(made) == (0 if database.dialect == "postgresql" else len(paths)), api
        kept = service._principals.built[service.hash_token(member.token)][1].user
        assert kept is not None and kept.name == member.user.name
        assert member.ok("PATCH", "me", {"name": "Renamed"})["name"] == "Renamed"
        assert len(made) > 0  # the write had its session
    finally:
        database.session_made.remove(made.append)
    assert inspect(kept).detached and kept.name == member.user.name
    assert member.ok("GET", "me")["name"] == "Renamed"
    assert member.ok("GET", "today")["period"]
