"""Writing a card's history: one row per change of the card or of one of its tasks."""

from __future__ import annotations

from typing import Any

from cardcrm.common.timeutil import utcnow
from sqlalchemy.orm import Session

from ..auth.models import User
from .models import Card, CardHistory


def record_history(
    session: Session,
    card: Card,
    type: str,
    actor: User | None,
    data: dict[str, Any],
    task_id: int | None = None,
    positive: bool = False,
) -> None:
    session.add(
        CardHistory(
            card_id=card.id,
            task_id=task_id,
            type=type,
            user_id=actor.id if actor else None,
            data=data,
            at=utcnow(),
            positive=positive,
        )
    )
