"""HTTP API of authentication and users."""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import ApiBlueprint, Page, Reply
from cardcrm.common.db import get_session
from cardcrm.common.pagination import PageArgsSchema, decode_cursor, encode_cursor
from flask import current_app, request
from sqlalchemy import select

from . import service, sessions
from .models import ApiToken, User
from .schemas import (
    LoginResultSchema,
    LoginSchema,
    MeUpdateSchema,
    TokenCreatedSchema,
    TokenCreateSchema,
    TokenSchema,
    UserCreateSchema,
    UserSchema,
    WebSessionSchema,
)

bp = ApiBlueprint("auth", __name__, tag="Users and tokens")


@bp.operation(
    "/auth/token",
    "POST",
    auth=None,
    body=LoginSchema,
    response=LoginResultSchema,
    status=201,
    errors=(401, 422, 429),
)
def create_token(body: dict[str, Any]) -> Any:
    """Log in with e-mail and password; answers a new bearer token.

    Throttled: after 5 failed logins for an e-mail from one address within 15 minutes (or 50
    from one address whatever the e-mails), 429 with ``Retry-After``."""
    session = get_session()
    user = service.login(
        session, body["email"], body["password"], address=request.remote_addr or "unknown"
    )
    token, _ = service.create_token(session, user=user, name=body.get("name") or "API login")
    return {"token": token, "user": user}


@bp.operation("/me", response=UserSchema, errors=(401,), scope="users:read")
def me() -> Any:
    """The caller."""
    return service.current_user()


@bp.operation("/me", "PATCH", body=MeUpdateSchema, response=UserSchema, errors=(401, 403, 422, 429))
def update_me(body: dict[str, Any]) -> Any:
    """Change the caller's name, time zone or password.

    A new ``password`` needs ``current_password`` (422 without it, 403 when wrong; wrong
    guesses are throttled like logins). It ends the user's web sessions (but the one whose
    browser token makes this call) and, with ``revoke_tokens``, revokes the user's API
    tokens, this call's own included."""
    principal = service.authenticated_principal()
    assert principal.user is not None
    return service.update_user(
        get_session(),
        principal.user,
        body,
        current_session=principal.web_session_id,
        address=request.remote_addr or "unknown",
    )


@bp.operation("/users", query=PageArgsSchema, response=UserSchema, paginated=True, errors=(401,))
def list_users(args: dict[str, Any]) -> Page:
    """The users (for owner and assignee pickers)."""
    after = (decode_cursor(args.get("cursor")) or {}).get("after", 0)
    after = after if isinstance(after, int) else 0
    users = list(
        get_session().scalars(
            select(User).where(User.id > after).order_by(User.id).limit(args["limit"] + 1)
        )
    )
    cursor = None
    if len(users) > args["limit"]:
        users = users[: args["limit"]]
        cursor = encode_cursor({"after": users[-1].id})
    return Page(users, cursor)


@bp.operation(
    "/users",
    "POST",
    auth="admin",
    body=UserCreateSchema,
    response=UserSchema,
    status=201,
    errors=(401, 403, 409, 422),
)
def create_user(body: dict[str, Any]) -> Any:
    """Create a user (admins only)."""
    user = service.create_user(get_session(), **body)
    return Reply(user, headers={"Location": f"/api/v1/users/{user.id}"})


@bp.operation(
    "/tokens",
    "POST",
    body=TokenCreateSchema,
    response=TokenCreatedSchema,
    status=201,
    errors=(401, 422),
)
def create_api_token(body: dict[str, Any]) -> Any:
    """Make an API token for the caller, shown once; ``expires_in_days`` makes it expire."""
    token, row = service.create_token(
        get_session(),
        user=service.current_user(),
        name=body.get("name") or "API token",
        expires_in_days=body.get("expires_in_days"),
    )
    return {"id": row.id, "token": token, "expires_at": row.expires_at}


@bp.operation("/tokens", response=TokenSchema, paginated=True, errors=(401,))
def list_tokens() -> Page:
    """The caller's tokens (never their secret values), expired and revoked ones included."""
    user = service.current_user()
    rows = get_session().scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    )
    return Page(list(rows))


@bp.operation("/tokens/<int:token_id>", "DELETE", status=204, errors=(401, 404))
def revoke_token(token_id: int) -> None:
    """Revoke one of the caller's tokens (admins: any token); it stops working at once."""
    service.revoke_token(get_session(), token_id, service.authenticated_principal())


@bp.operation("/sessions", response=WebSessionSchema, paginated=True, errors=(401,))
def list_sessions() -> Page:
    """The caller's web sessions (browsers logged in to the web UI), the latest used first.

    ``current`` marks the session whose browser token makes this call; a call with any other
    token has none."""
    principal = service.authenticated_principal()
    assert principal.user is not None
    lifetimes = sessions.Lifetimes.of(current_app.config)
    rows = sessions.live_sessions(get_session(), principal.user, lifetimes)
    return Page(
        [
            {
                "id": row.id,
                "created_at": row.created_at,
                "last_seen_at": row.last_seen_at,
                "expires_at": lifetimes.expires_at(row),
                "user_agent": row.user_agent,
                "device": sessions.device(row.user_agent),
                "address": row.address,
                "current": row.id == principal.web_session_id,
            }
            for row in rows
        ]
    )


@bp.operation("/sessions/<int:session_id>", "DELETE", status=204, errors=(401, 404))
def end_session(session_id: int) -> None:
    """End one of the caller's web sessions: its cookie and browser token stop working."""
    sessions.end_users(get_session(), service.current_user(), session_id)
