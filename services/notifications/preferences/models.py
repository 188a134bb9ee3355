"""A user's notification preferences; a user without a row has the defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Preferences(Base):
    __tablename__ = "preferences"

    #: core's user id (the service never reads core's tables: ids come over HTTP)
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    #: encrypted with a key derived from SECRET_KEY (``secretbox``)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    assigned: Mapped[bool] = mapped_column(default=True)
    due_reminder_minutes: Mapped[int | None] = mapped_column()
    daily_digest_at: Mapped[str | None] = mapped_column(String(5))
    status_changes: Mapped[bool] = mapped_column(default=True)
    #: settings of channels added by plugins, by channel name
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the user's time zone as core last told it (refreshed before each digest)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    next_digest_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
