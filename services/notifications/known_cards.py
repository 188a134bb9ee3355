"""What the service knows of core's cards, learnt from the feed: titles and owners for messages.

The service never reads core's tables, and reading a card over the API would record it in the
user's recent cards, so card events keep this small copy up to date instead.
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.events import CARD_SNAPSHOTS, EventType
from sqlalchemy import String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base


class KnownCard(Base):
    __tablename__ = "known_cards"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(500))
    owner_id: Mapped[int | None] = mapped_column()
    status_id: Mapped[int | None] = mapped_column()
    status_group: Mapped[str | None] = mapped_column(String(32))
    trashed: Mapped[bool] = mapped_column(default=False)


def track(session: Session, event: dict[str, Any]) -> None:
    """Keep the copy of the event's card (or forget it, or its product's cards)."""
    kind, data = event["type"], event["data"]
    if kind in CARD_SNAPSHOTS:
        values = {  # read first: an event missing a field changes nothing
            "product_id": data["product_id"],
            "title": str(data.get("title") or "")[:500],
            "owner_id": data.get("owner_id"),
            "status_id": data.get("status_id"),
            "status_group": data.get("status_group"),
            "trashed": bool(data.get("trashed", kind == EventType.CARD_DELETED)),
        }
        card = session.get(KnownCard, data["id"]) or KnownCard(id=data["id"])
        for name, value in values.items():
            setattr(card, name, value)
        session.add(card)
    elif kind == EventType.CARD_PURGED:
        session.execute(delete(KnownCard).where(KnownCard.id == data["id"]))
    elif kind == EventType.PRODUCT_DELETED:
        session.execute(delete(KnownCard).where(KnownCard.product_id == data["id"]))
