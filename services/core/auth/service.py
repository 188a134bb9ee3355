"""Rules about users and tokens, and resolving the caller of a request."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass

from cardcrm.common.db import get_session, write_transaction
from cardcrm.common.errors import Conflict, Forbidden, NotFound, Unauthorized
from cardcrm.common.timeutil import utcnow
from flask import g, request
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from . import throttle
from .models import ApiToken, User

TOKEN_PREFIX = "ccrm_"
FIRST_USER_LOCK = 0x6669727374  # "first"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, or a service (with no user)."""

    user: User | None
    service: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; no salt or stretching needed.
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    timezone: str = "UTC",
    is_admin: bool = False,
    first_user: bool = False,
) -> User:
    """Create a user; with ``first_user`` only while there is none (the first-run page)."""
    with write_transaction(session):
        if first_user:
            if session.get_bind().dialect.name == "postgresql":
                # Two first-run forms sent at once: the second waits, then finds a user.
                session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": FIRST_USER_LOCK}
                )
            if count_users(session):
                raise Conflict("cardcrm already has users; log in instead.")
        email = normalize_email(email)
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict(f"A user with the e-mail {email} already exists.")
        user = User(
            email=email,
            name=name,
            password_hash=generate_password_hash(password),
            timezone=timezone,
            is_admin=is_admin,
        )
        session.add(user)
    return user


def update_user(session: Session, user: User, changes: dict) -> User:
    with write_transaction(session):
        user = session.get_one(User, user.id)
        if "password" in changes:
            user.password_hash = generate_password_hash(changes.pop("password"))
        for key, value in changes.items():
            setattr(user, key, value)
    return user


def create_token(
    session: Session,
    *,
    user: User | None = None,
    service: str | None = None,
    name: str | None = None,
) -> tuple[str, ApiToken]:
    """Make a new token; the clear text is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction(session):
        row = ApiToken(
            token_hash=hash_token(token),
            user_id=user.id if user else None,
            service=service,
            name=name,
        )
        session.add(row)
    return token, row


def revoke_token(session: Session, token_id: int, principal: Principal) -> ApiToken:
    with write_transaction(session):
        row = session.get(ApiToken, token_id)
        if row is None or not (
            principal.is_admin or (principal.user and row.user_id == principal.user.id)
        ):
            raise NotFound("No such token.")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
    return row


@functools.cache
def _no_such_user_hash() -> str:
    """Checked against when the e-mail is unknown, so that answering takes as long."""
    return generate_password_hash("no such user")


def login(session: Session, email: str, password: str, address: str | None = None) -> User:
    """The user with this e-mail and password; throttled per client ``address`` when given
    (``throttle.py``: the API and the web UI give it, the command line does not)."""
    email = normalize_email(email)
    if address is not None:
        throttle.attempt(session, email, address, utcnow())
    user = session.scalar(select(User).where(User.email == email))
    hashed = user.password_hash if user is not None else _no_such_user_hash()
    if not check_password_hash(hashed, password) or user is None:
        raise Unauthorized("Wrong e-mail or password.")
    if address is not None:
        throttle.succeeded(session, email, address)
    return user


def user_for_token(session: Session, token: str) -> Principal | None:
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    return Principal(user=row.user, service=row.service)


def count_users(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


def authenticate(level: str | None) -> Principal | None:
    """Resolve the caller of this request and check it may use an operation of ``level``."""
    if level is None:
        return None
    principal = current_principal()
    if principal is None:
        raise Unauthorized("Send a valid token as 'Authorization: Bearer <token>'.")
    if level == "events":
        if not (principal.service or principal.is_admin):
            raise Forbidden("The event feed is for admins and service tokens.")
    elif principal.user is None:
        raise Forbidden("This operation needs a user's token, not a service token.")
    elif level == "admin" and not principal.is_admin:
        raise Forbidden("Only admins may do this.")
    return principal


ON_BEHALF_HEADER = "X-Cardcrm-On-Behalf-Of"


def current_principal() -> Principal | None:
    """The caller: a user, a service, or a service acting for a user (``ON_BEHALF_HEADER``).

    A sidecar acts for a user when it brings a change back from outside (a to-do completed in
    a calendar app) or reads what the user would see (the Today view of a digest): only
    service tokens may, and the change is then recorded as that user's.
    """
    if "principal" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        principal = None
        if scheme.lower() == "bearer" and token.strip():
            principal = user_for_token(get_session(), token.strip())
        on_behalf = request.headers.get(ON_BEHALF_HEADER)
        if principal is not None and on_behalf is not None:
            principal = _acting_for(principal, on_behalf)
        g.principal = principal
    return g.principal


def _acting_for(principal: Principal, user_id: str) -> Principal:
    if principal.service is None:
        raise Forbidden(f"Only service tokens may send {ON_BEHALF_HEADER}.")
    user = get_session().get(User, int(user_id)) if user_id.strip().isdigit() else None
    if user is None:
        raise Unauthorized(f"{ON_BEHALF_HEADER} names no user.")
    return Principal(user=user, service=principal.service)


def authenticated_principal() -> Principal:
    """The caller of an operation that lets in authenticated callers only (all but public ones)."""
    principal = current_principal()
    assert principal is not None, "the operation's authentication let no one in"
    return principal


def current_user() -> User:
    principal = authenticated_principal()
    assert principal.user is not None
    return principal.user
