"""A user's notification preferences (a user without a row has the defaults), and the
messages that prove a chosen e-mail address is the user's (``verification``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from sqlalchemy import ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Preferences(Base):
    __tablename__ = "preferences"

    #: core's user id (the service never reads core's tables: ids come over HTTP)
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    email: Mapped[str | None] = mapped_column(String(320))
    #: when ``email`` was proven the user's (their account's own address, or a confirmed
    #: link); ``None`` while it awaits confirmation: notification e-mails then go to the
    #: account's own address instead
    email_verified_at: Mapped[datetime | None] = mapped_column()
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    #: encrypted with a key derived from SECRET_KEY (``secretbox``)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    assigned: Mapped[bool] = mapped_column(default=True)
    due_reminder_minutes: Mapped[int | None] = mapped_column()
    daily_digest_at: Mapped[str | None] = mapped_column(String(5))
    status_changes: Mapped[bool] = mapped_column(default=True)
    #: mentions in notes (the ``mentioned`` rule); rows saved before it existed say yes
    mentioned: Mapped[bool] = mapped_column(default=True, server_default=true())
    #: settings of channels added by plugins, by channel name
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the user's time zone as core last told it (refreshed before each digest)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    next_digest_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmailVerification(Base):
    """A message asking the owner of ``email`` to confirm it gets the user's notifications.

    Only a hash of the link's token is kept. A row is sent (``sent_at``), failed to send
    (``error``) or still being sent (neither); it works once (``used_at``), until
    ``expires_at``, and only while ``email`` is still the address in the user's preferences.
    """

    __tablename__ = "email_verifications"
    __table_args__ = (Index("ix_email_verifications_user", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("preferences.user_id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    #: SHA-256 (hex) of the token the link carries
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    #: why the message could not be sent (the SMTP server's answer)
    error: Mapped[str | None] = mapped_column(Text)
    used_at: Mapped[datetime | None] = mapped_column()
