"""A card's file: its name and type as uploaded, and the SHA-256 that names its bytes."""

from __future__ import annotations

from datetime import datetime

from cardcrm.common.timeutil import utcnow
from cardcrm.core.base import Base
from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

#: The longest file name kept (characters); longer names are cut, keeping the extension.
NAME_LENGTH = 255


class CardFile(Base):
    """One file on one card. Two rows may name the same bytes (``sha256``): they are stored
    once, and removed when the last row naming them is gone."""

    __tablename__ = "card_files"
    __table_args__ = (
        # A card's files newest first (the list and the timeline).
        Index("ix_card_files_card_id_created_at_id", "card_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
