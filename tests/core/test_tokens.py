"""API tokens a user makes for themselves (``POST /api/v1/tokens``), which may expire."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cardcrm.common.timeutil import utcnow
from cardcrm.core.auth.models import ApiToken
from sqlalchemy import update

from tests.conftest import Api, get_db_from


def set_token(app, token_id: int, **values) -> None:
    session = get_db_from(app).session()
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(**values))
    session.commit()
    session.close()


def test_a_user_makes_a_token_that_expires(app, member, client):
    made = member.ok("POST", "tokens", {"name": "backup script", "expires_in_days": 30}, status=201)
    assert set(made) == {"id", "token", "expires_at"}
    expires_at = datetime.fromisoformat(made["expires_at"])
    assert abs(expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    script = Api(client, made["token"])
    assert script.ok("GET", "me")["id"] == member.user.id

    listed = {item["id"]: item for item in member.ok("GET", "tokens")["items"]}
    assert listed[made["id"]]["name"] == "backup script"
    assert listed[made["id"]]["expires_at"] == made["expires_at"]
    assert "token" not in listed[made["id"]]

    set_token(app, made["id"], expires_at=utcnow() - timedelta(seconds=1))
    refused = script.get("me")
    assert refused.status_code == 401  # refused like a revoked one
    assert refused.mimetype == "application/problem+json"


def test_a_token_without_an_expiry_lives_until_revoked(member, client):
    made = member.ok("POST", "tokens", {}, status=201)
    assert made["expires_at"] is None
    script = Api(client, made["token"])
    assert script.get("me").status_code == 200
    assert member.delete(f"tokens/{made['id']}").status_code == 204
    assert script.get("me").status_code == 401


@pytest.mark.parametrize("days", [0, -1, 3651, "soon", 1.5, None])
def test_a_bad_expiry_is_refused_and_makes_no_token(member, days):
    before = member.ok("GET", "tokens")["items"]
    answer = member.post("tokens", {"expires_in_days": days})
    assert answer.status_code == 422
    assert "expires_in_days" in answer.get_json()["errors"]
    assert member.ok("GET", "tokens")["items"] == before


def test_only_users_make_tokens(anonymous, client, app):
    from cardcrm.core.auth.service import create_token

    assert anonymous.post("tokens", {}).status_code == 401
    session = get_db_from(app).session()
    service_token, _ = create_token(session, service="calendar")
    session.close()
    assert Api(client, service_token).post("tokens", {}).status_code == 403
