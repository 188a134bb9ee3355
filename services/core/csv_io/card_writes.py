"""Writing checked card rows, a chunk of rows per flush: each row records its history rows
and events through the cards' own ``record_creation`` and ``record_change``."""

from __future__ import annotations

from dataclasses import dataclass

from cardcrm.common.timeutil import utcnow
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..auth.models import User
from ..cards.changes import CardChange, record_change, record_creation
from ..cards.models import Card
from ..cards.schemas import CardSchema
from ..contacts.models import CardContact


@dataclass
class CardPlan:
    """A checked row: a card to create (transient), or the change of a stored card."""

    line: int
    card: Card
    #: The stored card's change; None: ``card`` is new.
    change: CardChange | None = None

    @property
    def outcome(self) -> str:
        if self.change is None:
            return "created"
        return "updated" if self.change.changes_anything else "unchanged"


def write_cards(session: Session, actor: User | None, plans: list[CardPlan]) -> None:
    """Write checked rows, in file order, with their history rows and events."""
    # One schema for every row (card_data's dump, without building a schema per card).
    card_data = CardSchema().dump
    now = utcnow()
    changed: list[int] = []
    for plan in plans:
        if plan.change is None:
            session.add(plan.card)
        elif plan.change.changes_anything:
            plan.change.apply()
            plan.card.updated_at = now
            changed.append(plan.card.id)
    session.flush()
    links = _contact_links(session, changed)
    for plan in plans:
        card = plan.card
        if plan.change is None:
            set_committed_value(card, "contact_links", [])
            record_creation(session, actor, card, card_data(card))
        elif plan.change.changes_anything:
            set_committed_value(card, "contact_links", links[card.id])
            record_change(session, actor, plan.change, card_data(card))


def _contact_links(session: Session, card_ids: list[int]) -> dict[int, list[CardContact]]:
    links: dict[int, list[CardContact]] = {card_id: [] for card_id in card_ids}
    if card_ids:
        for link in session.scalars(
            select(CardContact)
            .where(CardContact.card_id.in_(card_ids))
            .order_by(CardContact.card_id, CardContact.contact_id)
        ):
            links[link.card_id].append(link)
    return links
