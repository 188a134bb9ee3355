"""The card timeline's ``email`` items: the card's e-mails at the time they arrived."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from ..timeline import Entry, Position, after_position, source
from .models import CardEmail
from .schemas import EmailSchema, with_files

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..cards.models import Card


@source("email")
def email_entries(session: Session, card: Card, before: Position | None, limit: int) -> list[Entry]:
    rows = list(
        session.scalars(
            select(CardEmail)
            .where(
                CardEmail.card_id == card.id,
                after_position("email", CardEmail.received_at, CardEmail.id, before),
            )
            .order_by(CardEmail.received_at.desc(), CardEmail.id.desc())
            .limit(limit)
        )
    )
    schema = EmailSchema()
    return [
        Entry("email", row.received_at, row.id, schema.dump(row))
        for row in with_files(session, rows)
    ]
