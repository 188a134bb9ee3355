"""Rules for e-mail to the card: which address is live, filing a message, rotating an address.

A message reaches every live card it is addressed to, each in its own row; a second delivery
of the same message (same Message-ID, or the same bytes when it has none) to a card is
recognised and stores nothing. Filing locks the cards first (in id order), so two deliveries
of one message at once store it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import NotFound, ensure_version
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import utcnow
from cardcrm.common.translate import gettext as _
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..cards.history import record_history
from ..cards.models import Card
from ..cards.schemas import card_data
from ..cards.service import get_card, get_live_card
from ..events import record_event
from . import attachments
from .address import card_address, new_secret, parse_address, secret_matches
from .models import CardEmail
from .parse import parse
from .schemas import email_data, email_event_data


def live_card_for(session: Session, address: str) -> Card | None:
    """The card whose current address is ``address``, unless it is in the trash."""
    parsed = parse_address(address)
    if parsed is None:
        return None
    card = session.get(Card, parsed[0])
    if card is None or card.trashed or not secret_matches(card.email_secret, parsed[1]):
        return None
    return card


@dataclass
class Delivery:
    """What became of one message: the e-mails made (or found already there) and the
    recipients that name no live card."""

    delivered: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def deliver(session: Session, recipients: list[str], raw: bytes) -> Delivery:
    """File the message ``raw`` on the card of each recipient, in one transaction."""
    message = parse(raw)
    result = Delivery()
    with write_transaction(session):
        cards: dict[int, Card] = {}
        for recipient in recipients:
            card = live_card_for(session, recipient)
            if card is None:
                result.refused.append(recipient)
            else:
                cards.setdefault(card.id, card)
        for card_id in sorted(cards):
            card = get_live_card(session, card_id, lock=True)
            existing = session.scalar(
                select(CardEmail).where(
                    CardEmail.card_id == card.id, CardEmail.dedupe_key == message.dedupe_key
                )
            )
            if existing is not None:
                result.delivered.append(
                    {"card_id": card.id, "email_id": existing.id, "duplicate": True}
                )
                continue
            row = CardEmail(
                card_id=card.id,
                message_id=message.message_id,
                dedupe_key=message.dedupe_key,
                from_address=message.from_address,
                to=message.to,
                cc=message.cc,
                subject=message.subject,
                text=message.text,
                html=message.html,
                received_at=utcnow(),
            )
            row.file_ids = [
                attachments.add(session, card, item.name, item.content_type, BytesIO(item.content))
                for item in message.attachments
            ]
            session.add(row)
            session.flush()
            # A statement, as files do: the card's version (and its open edit forms) stays.
            session.execute(
                update(Card)
                .where(Card.id == card.id)
                .values(updated_at=row.received_at)
                .execution_options(synchronize_session="fetch")
            )
            data = email_data(session, row)
            record_history(
                session,
                card,
                EventType.EMAIL_RECEIVED,
                None,
                {"email_id": row.id, "from": row.from_address, "subject": row.subject},
            )
            record_event(session, EventType.EMAIL_RECEIVED, email_event_data(card, data))
            result.delivered.append({"card_id": card.id, "email_id": row.id, "duplicate": False})
    return result


def rotate_address(
    session: Session, actor: User, card_id: int, expected: set[int] | None = None
) -> Card:
    """Give the card a new address; the old one is refused from now on."""
    with write_transaction(session):
        card = get_live_card(session, card_id, lock=True, viewer=actor)
        ensure_version(card.version, expected)
        before = card_address(card)
        card.email_secret = new_secret()
        card.updated_at = utcnow()
        session.flush()
        changes = {"changes": {"email_address": {"before": before, "after": card_address(card)}}}
        record_history(session, card, EventType.CARD_UPDATED, actor, changes)
        record_event(session, EventType.CARD_UPDATED, {**card_data(card), **changes}, actor=actor)
    return card


def list_emails(
    session: Session,
    viewer: User,
    card_id: int,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[CardEmail]:
    """The card's e-mails, newest first, after the position ``after``."""
    get_card(session, card_id, viewer=viewer)
    query = select(CardEmail).where(CardEmail.card_id == card_id)
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(
                CardEmail.received_at < at,
                and_(CardEmail.received_at == at, CardEmail.id < last_id),
            )
        )
    query = query.order_by(CardEmail.received_at.desc(), CardEmail.id.desc()).limit(limit)
    return list(session.scalars(query))


def get_email(session: Session, viewer: User, email_id: int) -> CardEmail:
    """An e-mail, if its card is one ``viewer`` may see (else 404, as if none)."""
    row = session.get(CardEmail, email_id)
    if row is None:
        raise NotFound(_("No e-mail %(id)s.", id=email_id))
    try:
        get_card(session, row.card_id, viewer=viewer)
    except NotFound:
        raise NotFound(_("No e-mail %(id)s.", id=email_id)) from None
    return row
