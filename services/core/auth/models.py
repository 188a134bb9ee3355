"""Users and their API tokens (stored as hashes only)."""

from __future__ import annotations

from datetime import datetime

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
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token: a user's, or a service's (``service`` set, ``user_id`` empty)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    service: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship(lazy="joined")


class LoginFailure(Base):
    """A failed login, kept for the throttle's window (``auth/throttle.py``)."""

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
