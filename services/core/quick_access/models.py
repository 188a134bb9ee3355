"""Per-user quick-access data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from cardcrm.core.base import Base
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column


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


class Favorite(Base):
    """A saved card filter of one user for one product."""

    __tablename__ = "favorites"
    __table_args__ = (Index("ix_favorites_user_id_product_id", "user_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: The card list filters, as query-string keys and values (``field.<key>`` included).
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
