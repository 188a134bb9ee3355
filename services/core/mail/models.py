"""E-mails filed on cards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from cardcrm.core.base import Base
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class CardEmail(Base):
    """One message as it reached one card (a message to two cards is a row on each)."""

    __tablename__ = "card_emails"
    __table_args__ = (
        # A message delivered twice (a retrying mail server, a list's copy) is kept once.
        UniqueConstraint("card_id", "dedupe_key"),
        # The card's e-mails, newest first (and the timeline's e-mail items).
        Index("ix_card_emails_card_received", "card_id", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    #: The Message-ID header as sent (``None`` when the message had none).
    message_id: Mapped[str | None] = mapped_column(Text)
    #: SHA-256 of the normalised Message-ID, or of the raw message when it has none.
    dedupe_key: Mapped[str] = mapped_column(String(64))
    from_address: Mapped[str] = mapped_column(Text, default="")
    to: Mapped[list[Any]] = mapped_column(default=list)
    cc: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    #: The HTML part, sanitised (nh3) before it is stored.
    html: Mapped[str | None] = mapped_column(Text)
    #: The card files made from its attachments (ids of ``card_files``; one removed since is
    #: left out when shown).
    file_ids: Mapped[list[Any]] = mapped_column(default=list)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
