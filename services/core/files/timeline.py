"""The card timeline's ``file`` items: each file at the time it was added."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cards.models import Card
from ..timeline import Entry, Position, after_position, source
from .models import CardFile
from .service import file_data


@source("file")
def file_entries(session: Session, card: Card, before: Position | None, limit: int) -> list[Entry]:
    """The card's files newest first, after ``before``."""
    rows = session.scalars(
        select(CardFile)
        .where(
            CardFile.card_id == card.id,
            after_position("file", CardFile.created_at, CardFile.id, before),
        )
        .order_by(CardFile.created_at.desc(), CardFile.id.desc())
        .limit(limit)
    )
    return [Entry("file", row.created_at, row.id, file_data(row)) for row in rows]
