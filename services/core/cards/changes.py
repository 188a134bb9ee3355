"""Changing a card: the one path by which a stored card's values and status change.

The API and web UI (``service.update_card``), status deletion (``move_cards``) and the CSV
import all describe a change as a ``CardChange``, check it with ``check_in_sight`` and
``check_status_change`` and record it with ``record_change`` (``change_card`` does all of it
for one card; the import writes a chunk of rows per flush), so every path writes the same
history rows and events, asks the plugins the same way and makes one version per write.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cardcrm.common.errors import Forbidden
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import utcnow
from cardcrm.common.translate import gettext as _
from flask import current_app
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from ..access import scope_of
from ..auth.models import User
from ..contacts.service import set_card_contacts
from ..errors import StatusChangeRefused
from ..events import record_event
from ..mail.address import mail_domain
from ..products.models import Product, Status
from . import fast
from .history import record_history
from .models import Card


@dataclass
class CardChange:
    """A stored card's new values; ``diff`` and ``moves`` say what they change.

    Built before the card is touched (``CardChange.of``), so the values it had stay known:
    the history records them and the ``card.status_changed`` event carries them as ``before``.
    """

    card: Card
    title: str
    status: Status
    owner_id: int | None
    contact_id: int | None
    fields: dict[str, Any]
    #: The other contacts the card should have; ``None``: they are not being set.
    contact_ids: list[int] | None = None
    #: Why the card moves when no one chose it (``"status deleted"``), kept in its history.
    reason: str | None = None
    old_status: Status = field(init=False)
    diff: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.old_status = self.card.status
        self.diff = _diff(self)

    @classmethod
    def of(cls, card: Card, values: dict[str, Any], reason: str | None = None) -> CardChange:
        """The change setting ``values`` (``title``, ``status``, ``owner_id``, ``contact_id``,
        ``contact_ids``, ``fields``: the card's complete new fields); the rest stays."""
        return cls(
            card=card,
            title=values.get("title", card.title),
            status=values.get("status", card.status),
            owner_id=values.get("owner_id", card.owner_id),
            contact_id=values.get("contact_id", card.contact_id),
            fields=values.get("fields", card.fields),
            contact_ids=values.get("contact_ids"),
            reason=reason,
        )

    @property
    def moves(self) -> bool:
        return self.status.id != self.old_status.id

    @property
    def changes_anything(self) -> bool:
        return bool(self.diff) or self.moves

    def apply(self) -> None:
        """Set the new values and status on the card (not its other contacts)."""
        self.apply_values()
        self.card.status = self.status

    def apply_values(self) -> None:
        """Set the new values but not the status: the card as the plugins judge a move."""
        card = self.card
        card.title, card.owner_id, card.contact_id = self.title, self.owner_id, self.contact_id
        card.fields = self.fields


def proposed_card(product: Product, status: Status, **values: Any) -> Card:
    """A card as a row of a file would make it, for the rules to judge (``check_in_sight``,
    the plugins' ``check_status_change``), never stored: ``Card(...)`` without the ORM's
    change tracking, which costs ten times as much and an import makes one per row."""
    card = _card_manager().new_instance()
    card.__dict__.update(
        product=product, product_id=product.id, status=status, status_id=status.id, **values
    )
    return card


@functools.cache
def _card_manager() -> Any:
    return inspect(Card).class_manager


def _check_rules(session: Session, actor: User | None, change: CardChange) -> None:
    """A member limited to own cards keeps the card in sight, and plugins may refuse the move
    (they judge the card with its new values, still in its old status)."""
    if "owner_id" in change.diff:
        check_in_sight(session, actor, change.card)
    if change.moves:
        check_status_change(change.card, change.old_status, change.status, actor)


def change_card(session: Session, actor: User | None, change: CardChange) -> bool:
    """Check and write one change in the caller's transaction: one UPDATE (one version), then
    its history rows and events. False when the change changes nothing (nothing is written)."""
    card = change.card
    # Queries made while the card is half-changed (lazy loads, checks, plugins) must not
    # autoflush it: each flush would bump the version, and one write is one version.
    with session.no_autoflush:
        change.apply_values()
        _check_rules(session, actor, change)
        card.status = change.status
    if not change.changes_anything:
        return False
    card.updated_at = utcnow()
    if change.contact_ids is not None:
        set_card_contacts(session, card, change.contact_ids)
    session.flush()  # the card's one UPDATE: one write, one version
    if change.contact_ids is not None:
        session.refresh(card, ["contact_links"])
    record_change(session, actor, change, card_json(card))
    return True


def card_json(card: Card) -> dict[str, Any]:
    """``CardSchema().dump(card)`` (``schemas.card_data``) of a loaded card, built by the card
    list's dict builder (``fast.card_dict``, whose keys are checked against the schema's) from
    the card's values: a write builds it for its history row, its event and its answer, and
    the schema's dump (a schema instance and a field walk each time) was a tenth of a card
    write's time. ``tests/core/test_write_paths.py`` compares the two byte for byte."""
    return fast.card_dict(fast.orm_rows([card])[0], card.status.group, mail_domain())


def move_cards(
    session: Session, actor: User | None, status: Status, target: Status | None
) -> int | None:
    """Move every card of ``status`` (being deleted) to ``target``; how many moved, or None
    when cards are there and no ``target``."""
    # In id order, so that a move a plugin refuses stops the same cards' moves on every run.
    query = select(Card).where(Card.status_id == status.id).order_by(Card.id)
    cards = list(session.scalars(query))
    if cards and target is None:
        return None
    for card in cards:
        change_card(session, actor, CardChange.of(card, {"status": target}, "status deleted"))
    return len(cards)


class Recorded(NamedTuple):
    """A history row and its event, as one card write records them.

    Built in one place for every path: the API and web write them one by one
    (``record_change``, ``record_creation``), the CSV import thousands at once.
    """

    history_type: str
    history_data: dict[str, Any]
    event_type: EventType
    event_data: dict[str, Any]
    positive: bool = False


def record_change(
    session: Session, actor: User | None, change: CardChange, after: dict[str, Any]
) -> None:
    """The history rows and events of a written change; ``after`` is the card's new data."""
    records = change_records(change.diff, change.old_status, change.status, after, change.reason)
    _record(session, actor, change.card, records)


def record_creation(session: Session, actor: User | None, card: Card, data: dict[str, Any]) -> None:
    """The history row and event of a new card; ``data`` is the card's data."""
    _record(session, actor, card, creation_records(data))


def change_records(
    diff: dict[str, dict[str, Any]],
    old: Status,
    new: Status,
    after: dict[str, Any],
    reason: str | None = None,
) -> list[Recorded]:
    """What a change records: field changes are ``card.updated``; a move is
    ``card.status_changed``, a positive result when it reaches the positive group, its event
    carrying the status it left as ``before``."""
    records = []
    if diff:
        changes = {"changes": diff}
        records.append(
            Recorded(EventType.CARD_UPDATED, changes, EventType.CARD_UPDATED, {**after, **changes})
        )
    if new.id != old.id:
        move: dict[str, Any] = {"from": _status_ref(old), "to": _status_ref(new)}
        if reason:
            move["reason"] = reason
        before = {"status_id": old.id, "status_group": old.group}
        records.append(
            Recorded(
                EventType.CARD_STATUS_CHANGED,
                move,
                EventType.CARD_STATUS_CHANGED,
                {**after, "before": before},
                positive=new.group == "positive" and old.group != "positive",
            )
        )
    return records


def creation_records(data: dict[str, Any]) -> list[Recorded]:
    """What a new card records: ``card.created``, its history row holding the card."""
    return [Recorded(_CREATED, {"card": data}, _CREATED, data)]


_CREATED = EventType.CARD_CREATED  # (an enum member is slow to look up, and imports want many)


def _record(session: Session, actor: User | None, card: Card, records: list[Recorded]) -> None:
    for item in records:
        record_history(
            session, card, item.history_type, actor, item.history_data, positive=item.positive
        )
        record_event(session, item.event_type, item.event_data, actor=actor)


def check_in_sight(session: Session, actor: User | None, card: Card) -> None:
    """A member limited to own cards may not create or hand over a card out of their sight."""
    if actor is not None and not scope_of(session, actor).sees_card(card):
        raise Forbidden(_("You see only your own cards here: the owner must be you or nobody."))


def check_status_change(card: Card, old: Status | None, new: Status, actor: User | None) -> None:
    """Ask the plugins about ``card`` entering ``new`` (``old`` None: a new card)."""
    status_change_checker()(card, old, new, actor)


StatusChangeCheck = Callable[[Card, Status | None, Status, User | None], None]


def status_change_checker() -> StatusChangeCheck:
    """``check_status_change`` with the plugins' hook looked up once, for many cards (an
    import asks for each row: the lookup through ``current_app`` was a fifth of the ask)."""
    ask = current_app.extensions["cardcrm_plugins"].hook.cardcrm_validate_status_change

    def check(card: Card, old: Status | None, new: Status, actor: User | None) -> None:
        reasons: list[str] = []
        for result in ask(card=card, old_status=old, new_status=new, user=actor):
            if isinstance(result, str):
                reasons.append(result)
            elif result:
                reasons.extend(str(reason) for reason in result)
        if reasons:
            raise StatusChangeRefused(reasons)

    return check


def _diff(change: CardChange) -> dict[str, dict[str, Any]]:
    """What the change changes, field by field: ``{name: {"before", "after"}}``."""
    card = change.card
    diff: dict[str, dict[str, Any]] = {}
    if change.title != card.title:
        diff["title"] = {"before": card.title, "after": change.title}
    if change.owner_id != card.owner_id:
        diff["owner_id"] = {"before": card.owner_id, "after": change.owner_id}
    for key in sorted(set(card.fields) | set(change.fields)):
        if card.fields.get(key) != change.fields.get(key):
            diff[f"fields.{key}"] = {
                "before": card.fields.get(key),
                "after": change.fields.get(key),
            }
    if change.contact_id != card.contact_id:
        diff["contact_id"] = {"before": card.contact_id, "after": change.contact_id}
    if change.contact_ids is not None:
        before = card.contact_ids
        if sorted(change.contact_ids) != sorted(before):
            diff["contact_ids"] = {"before": before, "after": sorted(change.contact_ids)}
    return diff


def _status_ref(status: Status) -> dict[str, Any]:
    return {"id": status.id, "name": status.name, "group": status.group}
