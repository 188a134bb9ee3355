"""The timeline's "note" items: a card's notes, at the time each was written."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cards.models import Card
from ..timeline import Entry, Position, after_position, source
from .models import Note
from .service import note_data


@source("note")
def note_entries(session: Session, card: Card, before: Position | None, limit: int) -> list[Entry]:
    notes = session.scalars(
        select(Note)
        .where(Note.card_id == card.id, after_position("note", Note.created_at, Note.id, before))
        .order_by(Note.created_at.desc(), Note.id.desc())
        .limit(limit)
    )
    return [Entry("note", note.created_at, note.id, note_data(note)) for note in notes]
