"""Recording and reading quick-access data."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..cards.models import Card
from ..db import write_transaction
from ..timeutil import utcnow
from .models import RecentCard

RECENT_LIMIT = 20


def note_card_opened(session: Session, user: User, card: Card) -> None:
    """Remember that ``user`` opened ``card``; only the newest ``RECENT_LIMIT`` are kept."""
    with write_transaction(session):
        row = session.get(RecentCard, (user.id, card.id))
        if row is None:
            session.add(RecentCard(user_id=user.id, card_id=card.id, opened_at=utcnow()))
        else:
            row.opened_at = utcnow()
        session.flush()
        keep = (
            select(RecentCard.card_id)
            .where(RecentCard.user_id == user.id)
            .order_by(RecentCard.opened_at.desc())
            .limit(RECENT_LIMIT)
        )
        session.execute(
            delete(RecentCard).where(RecentCard.user_id == user.id, RecentCard.card_id.not_in(keep))
        )
