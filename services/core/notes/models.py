"""A note on a card: its Markdown, the sanitised HTML made from it, and whom it mentions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from cardcrm.core.base import Base
from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..cards.models import Card


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (
        # A card's notes and its timeline, newest first.
        Index("ix_notes_card_id_created_at_id", "card_id", "created_at", "id"),
        # The card list's ``q``: the notes of one product, searched once per query.
        Index("ix_notes_product_id_card_id", "product_id", "card_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    #: The card's product, kept here so that a product's notes are searched without its cards.
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    #: ``body`` rendered and sanitised once, when written (``rendering.render``).
    html: Mapped[str] = mapped_column(Text)
    #: ``body`` folded (lower case, no accents) for the card list's ``q``.
    search_text: Mapped[str] = mapped_column(Text, default="")
    #: Ids of the mentioned users who may see the card.
    mentions: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    card: Mapped[Card] = relationship()

    __mapper_args__ = {"version_id_col": version}
