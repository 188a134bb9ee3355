"""Rules about users and tokens, and resolving the caller of a request."""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cardcrm.common import rawsql
from cardcrm.common.api import MAX_ID
from cardcrm.common.db import get_db, get_session, keep_loaded, made_session, write_transaction
from cardcrm.common.errors import Conflict, Forbidden, NotFound, Unauthorized
from cardcrm.common.timeutil import utcnow
from cardcrm.common.translate import gettext as _
from flask import current_app, g, request
from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    bindparam,
    cast,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, make_transient_to_detached
from werkzeug.security import check_password_hash, generate_password_hash

from ..access import Scope, remember_scope, scope_of, whole_scope
from ..events.outbox import Event
from ..products.models import Membership
from . import sessions, throttle
from .models import ApiToken, User, WebSession
from .scopes import SIDECAR_SCOPES

TOKEN_PREFIX = "ccrm_"
FIRST_USER_LOCK = 0x6669727374  # "first"
BROWSER_TOKEN_NAME = "web UI (browser session)"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, or a service (with no user, or acting for one).

    ``scopes`` are a service token's (``scopes.py``); ``web_session_id`` is the web session a
    browser token belongs to, so that ``GET /sessions`` can tell the caller's own.
    ``data_version`` is the newest event id when the token was checked: what answers made for
    this request may be kept under (``answers.py``)."""

    user: User | None
    service: str | None = None
    scopes: frozenset[str] = frozenset()
    web_session_id: int | None = None
    data_version: int | None = None
    #: What the user may see, read with the token (``access.scope_of``); None for admins
    #: and services.
    scope: Scope | None = None

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
    language: str | None = None,
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
                raise Conflict(_("cardcrm already has users; log in instead."))
        email = normalize_email(email)
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict(_("A user with the e-mail %(email)s already exists.", email=email))
        user = User(
            email=email,
            name=name,
            password_hash=generate_password_hash(password),
            timezone=timezone,
            language=language,
            is_admin=is_admin,
        )
        session.add(user)
    return user


def update_user(
    session: Session,
    user: User,
    changes: dict[str, Any],
    *,
    current_session: int | None = None,
    address: str | None = None,
) -> User:
    """Change a user's name, time zone, language or password.

    A new password needs the current one (``current_password``; wrong: 403, throttled like
    a login from ``address``). It ends the user's web sessions but ``current_session`` (the
    one the change was made from, if any) and, with ``revoke_tokens``, revokes the user's
    API tokens too (all but the current session's browser token), so whoever knew the old
    password or held a copied cookie or token is out."""
    changes = dict(changes)
    password = changes.pop("password", None)
    current_password = changes.pop("current_password", None)
    revoke_tokens = changes.pop("revoke_tokens", False)
    if password is not None:
        check_password(session, user, current_password or "", address)
    with write_transaction(session):
        user = session.get_one(User, user.id)
        if password is not None:
            user.password_hash = generate_password_hash(password)
            sessions.end_others(session, user.id, keep=current_session)
            if revoke_tokens:
                _revoke_tokens_of(session, user.id, keep_session=current_session)
        for key, value in changes.items():
            setattr(user, key, value)
    return user


def check_password(session: Session, user: User, password: str, address: str | None) -> None:
    """Refuse (403) a wrong password of a logged-in user, throttled like a login."""
    try:
        login(session, user.email, password, address)
    except Unauthorized as wrong:
        raise Forbidden(
            _("The current password is wrong."),
            errors={"current_password": [_("This is not your current password.")]},
        ) from wrong


def _revoke_tokens_of(session: Session, user_id: int, keep_session: int | None) -> None:
    # Other sessions' browser tokens go with their sessions; the current one's stays.
    revocable: ColumnElement[bool] = ApiToken.web_session_id.is_(None)
    if keep_session is not None:
        revocable = or_(revocable, ApiToken.web_session_id != keep_session)
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), revocable)
        .values(revoked_at=utcnow())
    )


def create_token(
    session: Session,
    *,
    user: User | None = None,
    service: str | None = None,
    name: str | None = None,
    expires_in_days: int | None = None,
    scopes: tuple[str, ...] | list[str] | None = None,
) -> tuple[str, ApiToken]:
    """Make a new token; the clear text is returned once and never stored.

    A service token gets ``scopes`` (default: what the sidecars need, ``SIDECAR_SCOPES``);
    a user's token may expire after ``expires_in_days``."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with write_transaction(session):
        row = ApiToken(
            token_hash=hash_token(token),
            user_id=user.id if user else None,
            service=service,
            name=name,
            expires_at=expires_at,
            scopes=list(SIDECAR_SCOPES if scopes is None else scopes) if service else None,
        )
        session.add(row)
    return token, row


def browser_token(session: Session, web_session: WebSession, secret: str) -> str:
    """The bearer token a logged-in browser calls the sidecars with, as its user.

    It belongs to the web session: derived from the session's cookie secret (an HMAC), so
    every tab of the session gets the same one while the database keeps only its hash, and
    deleted with the session (logout, expiry, "End", a new password). If it was revoked
    meanwhile, the next one is derived (the derivation counts the session's tokens)."""
    with write_transaction(session):
        # Locked: two tabs asking at once make one token (SQLite: the write lock already).
        user_id = session.scalar(
            select(WebSession.user_id).where(WebSession.id == web_session.id).with_for_update()
        )
        if user_id is None:
            raise Unauthorized(_("Your session has ended; log in again."))
        made = list(
            session.scalars(
                select(ApiToken)
                .where(ApiToken.web_session_id == web_session.id)
                .order_by(ApiToken.id)
            )
        )
        if made and made[-1].revoked_at is None:
            token = _derived_token(secret, len(made) - 1)
            if hmac.compare_digest(made[-1].token_hash, hash_token(token)):
                return token
        token = _derived_token(secret, len(made))
        session.add(
            ApiToken(
                token_hash=hash_token(token),
                user_id=user_id,
                name=BROWSER_TOKEN_NAME,
                web_session_id=web_session.id,
            )
        )
    return token


def _derived_token(secret: str, number: int) -> str:
    digest = hmac.new(secret.encode(), f"api-token:{number}".encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def revoke_token(session: Session, token_id: int, principal: Principal) -> ApiToken:
    with write_transaction(session):
        row = session.get(ApiToken, token_id)
        if row is None or not (
            principal.is_admin or (principal.user and row.user_id == principal.user.id)
        ):
            raise NotFound(_("No such token."))
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
        raise Unauthorized(_("Wrong e-mail or password."))
    if address is not None:
        throttle.succeeded(session, email, address)
    return user


def _member_products(limited: bool) -> Any:
    """The ids of the products the token's user is a member of, with or without "own cards
    only", as one text: ``"3,8"`` (None when there are none)."""
    return (
        select(func.aggregate_strings(cast(Membership.product_id, String), ","))
        .where(Membership.user_id == ApiToken.user_id, Membership.own_cards_only.is_(limited))
        .scalar_subquery()
    )


def _ids(text: str | None) -> frozenset[int]:
    return frozenset(int(part) for part in text.split(",")) if text else frozenset()


#: The one query a request's token check costs: the token (unrevoked), its user and its web
#: session, by the token's hash (a unique index). Built once; run on the driver's cursor of
#: the session's connection (``rawsql``: no ORM object, no execution context), so the check
#: costs its round trip and little Python. The state of the rows is read on every request,
#: never kept between them, so a token revoked, a session ended or a user changed by any
#: process counts at once.
#: The user's memberships come in two more columns (the products seen whole, and those where
#: only own cards are seen), so that what the user may see costs no statement of its own.
#: Its last column, the newest event id (an index's last entry), is the data version that
#: kept answers are checked against (``answers.py``).
_TOKEN_QUERY = (
    select(
        ApiToken.id,
        ApiToken.expires_at,
        ApiToken.service,
        ApiToken.scopes,
        ApiToken.web_session_id,
        WebSession.id.label("live_session_id"),
        WebSession.last_seen_at,
        WebSession.created_at,
        *(column.label(f"user_{column.key}") for column in User.__table__.columns),
        _member_products(limited=False).label("member_of"),
        _member_products(limited=True).label("own_cards_in"),
        select(func.max(Event.id)).scalar_subquery().label("data_version"),
    )
    .select_from(ApiToken)
    .outerjoin(User, User.id == ApiToken.user_id)
    .outerjoin(WebSession, WebSession.id == ApiToken.web_session_id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)
_USER_KEYS = tuple(column.key for column in User.__table__.columns)


class _Principals:
    """The principals this process has built, by token hash, with the row each was built
    from: a request whose row reads the same reuses it instead of building it again.

    Only a cache of objects: which token is valid, and what its user is like, is decided
    by the row just read, so nothing here can outlive a revocation. Bounded: when full it
    is emptied (tokens in use come back at their next request)."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.built: dict[str, tuple[tuple[Any, ...], Principal]] = {}

    def get(self, token_hash: str, row: Any) -> Principal:
        values = tuple(row)[:-1]  # all but the data version, which changes with every write
        found = self.built.get(token_hash)
        if found is not None and found[0] == values:
            return found[1]
        principal = _principal_of(row)
        if len(self.built) >= self.LIMIT:
            self.built.clear()
        self.built[token_hash] = (values, principal)
        return principal


def _principal_of(row: Any) -> Principal:
    user = None
    if row.user_id is not None:
        # Detached: never used as it is, but copied into each request's session (below).
        user = User(**{key: getattr(row, f"user_{key}") for key in _USER_KEYS})
        make_transient_to_detached(user)
    scope = None
    if user is not None and not user.is_admin:
        scope = Scope(
            user_id=user.id,
            products=_ids(row.member_of),
            own_cards_products=_ids(row.own_cards_in),
        )
    return Principal(
        user=user,
        service=row.service,
        scopes=frozenset(row.scopes or ()),
        web_session_id=row.web_session_id,
        scope=scope,
    )


_principals = _Principals()


def user_for_token(
    session: Session,
    token: str,
    lifetimes: sessions.Lifetimes = sessions.Lifetimes(),
    now: datetime | None = None,
) -> Principal | None:
    """Who ``token`` stands for, or ``None`` when it is unknown, revoked or expired (or its
    web session has ended, for a browser's token); its user belongs to ``session``."""
    principal = principal_for_token(session.connection(), token, lifetimes, now)
    return attached(session, principal) if principal is not None else None


def principal_for_token(
    connection: Connection,
    token: str,
    lifetimes: sessions.Lifetimes = sessions.Lifetimes(),
    now: datetime | None = None,
) -> Principal | None:
    """``user_for_token``'s principal before any session has it: its user is this process's
    detached copy, to be read, not changed (``attached`` gives a request its own).

    One indexed query (``_TOKEN_QUERY``) on every call, on ``connection``."""
    token_hash = hash_token(token)
    row = rawsql.first(connection, _TOKEN_QUERY, {"token_hash": token_hash})
    now = now or utcnow()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.web_session_id is not None:
        if row.live_session_id is None:
            return None
        ended = min(row.last_seen_at + lifetimes.idle, row.created_at + lifetimes.absolute)
        if ended <= now:
            return None
    principal = _principals.get(token_hash, row)
    return dataclasses.replace(principal, data_version=row.data_version)


def attached(session: Session, principal: Principal) -> Principal:
    """``principal`` with its user belonging to ``session`` like one it loaded itself (changes
    to it are saved with the session's, and each request has its own copy), without a query
    of its own, and what the user may see known to the session (``access.remember_scope``)."""
    user = principal.user
    if user is not None and user not in session:
        user = session.merge(user, load=False)
        keep_loaded(session, user)  # read just now: a write need not read it again
    if principal.scope is not None:
        remember_scope(session, principal.scope)
    return principal if user is principal.user else dataclasses.replace(principal, user=user)


def attach_caller(session: Session) -> None:
    """``Database.session_made``: the request's caller, if known already, joins its session."""
    principal = g.get("principal")
    if principal is not None:
        g.principal = attached(session, principal)


def count_users(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


def authenticate(level: str | None) -> Principal | None:
    """Resolve the caller of this request and check it may use an operation of ``level``."""
    if level is None:
        return None
    principal = current_principal()
    if principal is None:
        raise Unauthorized(_("Send a valid token as 'Authorization: Bearer <token>'."))
    if level == "events":
        if not (principal.service or principal.is_admin):
            raise Forbidden(_("The event feed is for admins and service tokens."))
    elif principal.user is None:
        raise Forbidden(_("This operation needs a user's token, not a service token."))
    elif level == "admin" and (principal.service or not principal.is_admin):
        # Acting for an admin makes no service one: admins' operations need an admin's token.
        raise Forbidden(_("Only admins may do this."))
    return principal


def authorize(principal: Principal, operation: Any) -> None:
    """A service token, by itself or acting for a user, may call only the operations that
    declare a scope it carries (``scopes.py``)."""
    if principal.service is None:
        return
    if operation.scope is None or operation.scope not in principal.scopes:
        if operation.scope:
            raise Forbidden(
                _(
                    "A service token may not do this: it needs the scope %(scope)s.",
                    scope=repr(operation.scope),
                )
            )
        raise Forbidden(_("A service token may not do this: it needs a user's own token."))


ON_BEHALF_HEADER = "X-Cardcrm-On-Behalf-Of"


def current_principal() -> Principal | None:
    """The caller: a user, a service, or a service acting for a user (``ON_BEHALF_HEADER``).

    A sidecar acts for a user when it brings a change back from outside (a to-do completed in
    a calendar app) or reads what the user would see (the Today view of a digest): only
    service tokens may, and the change is then recorded as that user's.

    Until the request makes its session, the principal's user is this process's detached
    copy (``checked_principal``); ``authenticated_principal`` and ``current_user`` give the
    session's own.
    """
    if "principal" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        principal = None
        if scheme.lower() == "bearer" and token.strip():
            lifetimes = sessions.Lifetimes.of(current_app.config)
            with get_db().one_read() as connection:
                principal = principal_for_token(connection, token.strip(), lifetimes)
        on_behalf = request.headers.get(ON_BEHALF_HEADER)
        if principal is not None and on_behalf is not None:
            principal = _acting_for(principal, on_behalf)
        # The request's session, once made, gets the caller's user (``attach_caller``); one
        # answered from memory (``answers.py``) never makes one.
        session = made_session()
        if principal is not None and session is not None:
            principal = attached(session, principal)
        g.principal = principal
    return g.principal


def _acting_for(principal: Principal, user_id: str) -> Principal:
    if principal.service is None:
        raise Forbidden(_("Only service tokens may send %(header)s.", header=ON_BEHALF_HEADER))
    # ASCII digits of a 32-bit id only: ``"²"`` is a digit to ``str.isdigit`` but no number to
    # ``int``, 4,300 digits are past what ``int`` converts, and ids are ``INTEGER`` columns.
    named = user_id.strip()
    number = int(named) if named.isascii() and named.isdigit() and len(named) <= 10 else None
    user = get_session().get(User, number) if number is not None and number <= MAX_ID else None
    if user is None:
        raise Unauthorized(_("%(header)s names no user.", header=ON_BEHALF_HEADER))
    return dataclasses.replace(principal, user=user)


def authenticated_principal() -> Principal:
    """The caller of an operation that lets in authenticated callers only (all but public
    ones), its user belonging to the request's session (made now if it was not)."""
    get_session()  # a session made after the token check takes the caller (``attach_caller``)
    return checked_principal()


def caller_scope() -> Scope:
    """What the caller may see (``access.scope_of``), known without the request's session for
    an admin and for a user calling with their own token (its memberships came with it)."""
    principal = checked_principal()
    user = principal.user
    if user is None or user.is_admin:
        return whole_scope(user)
    if principal.scope is not None and principal.scope.user_id == user.id:
        return principal.scope
    return scope_of(get_session(), current_user())  # a service acting for the user


def checked_principal() -> Principal:
    """``authenticated_principal`` without making the request's session: its user may be
    this process's detached copy, whose columns may be read but nothing else (what
    ``answers.py`` keys an answer by)."""
    principal = current_principal()
    assert principal is not None, "the operation's authentication let no one in"
    return principal


def current_user() -> User:
    principal = authenticated_principal()
    assert principal.user is not None
    return principal.user
