"""Users, their web sessions and their API tokens (secrets stored as hashes only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from cardcrm.core.base import Base
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    #: ``en``, ``ro``...: the web UI's and the user's e-mails' language; ``None`` follows the
    #: browser's Accept-Language (``cardcrm.common.i18n``).
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A user logged in to the web UI in one browser (``auth/sessions.py``).

    The browser's cookie holds a random id; only its hash is kept, so the table cannot be
    used to log in. Deleting the row ends the session (and its browser API token with it).
    """

    __tablename__ = "web_sessions"
    __table_args__ = (
        Index("ix_web_sessions_user_id", "user_id"),
        Index("ix_web_sessions_last_seen_at", "last_seen_at"),
        Index("ix_web_sessions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The web UI's forms send it back (``web/security.py``).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Updated at most once a minute (``sessions.TOUCH_INTERVAL``), not on every request.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The browser's User-Agent and address at login, to tell sessions apart in the list.
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token: a user's, or a service's (``service`` set, ``user_id`` empty).

    A service token may only do what its ``scopes`` name (``auth/scopes.py``). A user's token
    may expire (``expires_at``); one made for a browser's web session (``web_session_id``)
    lives exactly as long as that session.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    service: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    scopes: Mapped[list[Any] | None]
    web_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("web_sessions.id", ondelete="CASCADE"), index=True
    )

    user: Mapped[User | None] = relationship(lazy="joined")


class LoginFailure(Base):
    """A login attempt, kept for the throttle's window (``auth/throttle.py``): recorded before
    the password is checked, deleted when it was right, so what stays are the failures."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_address_at", "email", "address", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
        Index("ix_login_failures_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The e-mail as typed, normalized (the account may not exist: that is throttled too).
    email: Mapped[str] = mapped_column(String(320))
    #: The client's address as the app sees it (behind a trusted proxy: the forwarded one).
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
