"""Per-user quick-access data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..timeutil import utcnow


class RecentCard(Base):
    """The last time a user opened a card; one row per (user, card)."""

    __tablename__ = "recent_cards"
    __table_args__ = (Index("ix_recent_cards_user_id_opened_at", "user_id", "opened_at"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    card_id: Mapped[int] = mapped_column(
        ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True
    )
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
