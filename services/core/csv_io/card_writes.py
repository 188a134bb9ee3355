"""Writing checked card rows: each with the history rows and events ``create_card`` and
``update_card`` record, a chunk of rows per flush."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cardcrm.common.events import EventType
from cardcrm.common.timeutil import utcnow
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..auth.models import User
from ..cards.models import Card
from ..cards.schemas import CardSchema
from ..cards.service import _status_ref, record_history
from ..contacts.models import CardContact
from ..events import record_event
from ..products.models import Status


@dataclass
class CardPlan:
    """A checked row: the card to create (transient) or to update, and its new values."""

    line: int
    card: Card
    new: bool
    title: str
    status: Status
    owner_id: int | None
    contact_id: int | None
    fields: dict[str, Any]
    diff: dict[str, dict[str, Any]] = field(default_factory=dict)
    moves: bool = False

    @property
    def outcome(self) -> str:
        if self.new:
            return "created"
        return "updated" if self.diff or self.moves else "unchanged"


def write_cards(session: Session, actor: User | None, plans: list[CardPlan]) -> None:
    """Write checked rows, in file order, with their history rows and events."""
    # One schema for every row (card_data's dump, without building a schema per card).
    card_data = CardSchema().dump
    now = utcnow()
    before: dict[int, tuple[Status, dict[str, Any]]] = {}
    for plan in plans:
        card = plan.card
        if plan.new:
            session.add(card)
        elif plan.outcome == "updated":
            before[card.id] = (
                card.status,
                {"status_id": card.status_id, "status_group": card.status.group},
            )
            card.title, card.owner_id = plan.title, plan.owner_id
            card.contact_id, card.fields = plan.contact_id, plan.fields
            card.status = plan.status
            card.updated_at = now
    session.flush()
    links = _contact_links(session, list(before))
    for plan in plans:
        card = plan.card
        if plan.new:
            set_committed_value(card, "contact_links", [])
            data = card_data(card)
            record_history(session, card, EventType.CARD_CREATED, actor, {"card": data})
            record_event(session, EventType.CARD_CREATED, data, actor=actor)
        elif plan.outcome == "updated":
            set_committed_value(card, "contact_links", links[card.id])
            after = card_data(card)
            if plan.diff:
                record_history(session, card, EventType.CARD_UPDATED, actor, {"changes": plan.diff})
                record_event(
                    session, EventType.CARD_UPDATED, {**after, "changes": plan.diff}, actor=actor
                )
            if plan.moves:
                old_status, old = before[card.id]
                _record_move(session, card, old_status, old, after, actor)


def _record_move(
    session: Session,
    card: Card,
    old_status: Status,
    old: dict[str, Any],
    after: dict[str, Any],
    actor: User | None,
) -> None:
    new_status = card.status
    move = {"from": _status_ref(old_status), "to": _status_ref(new_status)}
    positive = new_status.group == "positive" and old_status.group != "positive"
    record_history(session, card, EventType.CARD_STATUS_CHANGED, actor, move, positive=positive)
    record_event(session, EventType.CARD_STATUS_CHANGED, {**after, "before": old}, actor=actor)


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
