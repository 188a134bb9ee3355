"""Items of the in-app inbox, written by the in-app channel once per notification."""

from __future__ import annotations

from datetime import datetime

from cardcrm.common.timeutil import utcnow
from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..deliveries.models import ID


class InboxItem(Base):
    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column()
    notification_id: Mapped[int] = mapped_column(
        ID, ForeignKey("notifications.id", ondelete="CASCADE"), unique=True
    )
    rule: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    card_id: Mapped[int | None] = mapped_column()
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    #: when what it tells of happened
    at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()
