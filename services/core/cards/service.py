"""Rules for cards: create, edit, move between statuses, trash and restore, and history."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Conflict, Forbidden, Invalid, NotFound, ensure_version
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import utcnow
from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from ..access import check_card, scope_of
from ..auth.models import User
from ..contacts.service import check_contacts, set_card_contacts
from ..errors import StatusChangeRefused
from ..events import record_event
from ..products.models import Product, Status
from ..products.service import get_product
from .fields import clean_values
from .models import Card, CardHistory

EDITABLE = ("title", "owner_id", "fields")


def get_card(
    session: Session, card_id: int, *, lock: bool = False, viewer: User | None = None
) -> Card:
    """The card; with ``viewer``, only if that user may see it (else 404, as if none)."""
    # The status comes in the same query (an inner join: every card has one).
    query = select(Card).where(Card.id == card_id).options(joinedload(Card.status, innerjoin=True))
    if lock:
        # The lock is taken by a query without the join: once it has waited for another writer,
        # PostgreSQL re-checks the changed card row against the status row it had joined
        # before, so a card whose status that writer changed came back as no row (a false 404).
        # Read after the lock, the card is its latest committed version.
        session.execute(select(Card.id).where(Card.id == card_id).with_for_update())
        query = query.execution_options(populate_existing=True)
    card = session.scalar(query)
    if card is None:
        raise NotFound(f"No card {card_id}.")
    if viewer is not None:
        check_card(session, viewer, card)
    return card


def get_live_card(
    session: Session, card_id: int, *, lock: bool = False, viewer: User | None = None
) -> Card:
    """A card that may be changed: one in the trash must be restored first."""
    card = get_card(session, card_id, lock=lock, viewer=viewer)
    if card.trashed:
        raise Conflict("The card is in the trash; restore it before changing it.")
    return card


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


def card_data(card: Card) -> dict[str, Any]:
    from .schemas import CardSchema

    return CardSchema().dump(card)


def create_card(
    session: Session, actor: User | None, product_id: int, data: dict[str, Any]
) -> Card:
    with write_transaction(session):
        product = get_product(session, product_id, viewer=actor)
        status = _status_of(product, data.get("status_id")) or _first_status(product)
        check_contacts(session, data.get("contact_id"), data.get("contact_ids"))
        card = Card(
            product=product,
            product_id=product.id,
            status=status,
            title=data["title"],
            owner_id=_check_owner(session, data.get("owner_id")),
            contact_id=data.get("contact_id"),
            fields=clean_values(product.fields, data.get("fields") or {}),
        )
        _keep_in_sight(session, actor, card)
        _ask_plugins(card, None, status, actor)
        session.add(card)
        session.flush()
        if data.get("contact_ids"):
            set_card_contacts(session, card, data["contact_ids"])
            session.flush()
            session.refresh(card, ["contact_links"])
        record_history(session, card, EventType.CARD_CREATED, actor, {"card": card_data(card)})
        record_event(session, EventType.CARD_CREATED, card_data(card), actor=actor)
    return card


def update_card(
    session: Session,
    actor: User | None,
    card_id: int,
    changes: dict[str, Any],
    expected: set[int] | None,
) -> Card:
    with write_transaction(session):
        card = get_live_card(session, card_id, lock=True, viewer=actor)
        ensure_version(card.version, expected)
        before = card_data(card)
        product = card.product
        # Queries made while the card is half-changed (lazy loads, checks, plugins) must not
        # autoflush it: each flush would bump the version, and one write is one version.
        with session.no_autoflush:
            diff: dict[str, dict[str, Any]] = {}
            if "title" in changes and changes["title"] != card.title:
                diff["title"] = {"before": card.title, "after": changes["title"]}
                card.title = changes["title"]
            if "owner_id" in changes and changes["owner_id"] != card.owner_id:
                diff["owner_id"] = {"before": card.owner_id, "after": changes["owner_id"]}
                card.owner_id = _check_owner(session, changes["owner_id"])
                _keep_in_sight(session, actor, card)
            if "fields" in changes:
                cleaned = _merge_fields(product.fields, card.fields, changes["fields"] or {})
                for key in sorted(set(card.fields) | set(cleaned)):
                    if card.fields.get(key) != cleaned.get(key):
                        diff[f"fields.{key}"] = {
                            "before": card.fields.get(key),
                            "after": cleaned.get(key),
                        }
                card.fields = cleaned
            contacts = None
            if "contact_id" in changes or "contact_ids" in changes:
                contacts = _contacts_wanted(session, card, changes, diff)
            old_status = card.status
            new_status = old_status
            if "status_id" in changes and changes["status_id"] != card.status_id:
                new_status = _status_of(product, changes["status_id"])
                _ask_plugins(card, old_status, new_status, actor)
                card.status = new_status
        if not diff and new_status is old_status:
            return card
        card.updated_at = utcnow()
        if contacts is not None:
            set_card_contacts(session, card, contacts)
        session.flush()  # the card's one UPDATE: one write, one version
        if contacts is not None:
            session.refresh(card, ["contact_links"])
        after = card_data(card)
        if diff:
            record_history(session, card, EventType.CARD_UPDATED, actor, {"changes": diff})
            record_event(session, EventType.CARD_UPDATED, {**after, "changes": diff}, actor=actor)
        if new_status is not old_status:
            move = {"from": _status_ref(old_status), "to": _status_ref(new_status)}
            record_history(
                session,
                card,
                EventType.CARD_STATUS_CHANGED,
                actor,
                move,
                positive=new_status.group == "positive" and old_status.group != "positive",
            )
            record_event(
                session,
                EventType.CARD_STATUS_CHANGED,
                {
                    **after,
                    "before": {
                        "status_id": before["status_id"],
                        "status_group": before["status_group"],
                    },
                },
                actor=actor,
            )
    return card


def trash_card(
    session: Session, actor: User | None, card_id: int, expected: set[int] | None
) -> Card:
    with write_transaction(session):
        card = get_live_card(session, card_id, lock=True, viewer=actor)
        ensure_version(card.version, expected)
        card.trashed_at = utcnow()
        card.updated_at = card.trashed_at
        _hide_tasks(session, card, True)
        session.flush()
        record_history(session, card, EventType.CARD_DELETED, actor, {})
        record_event(session, EventType.CARD_DELETED, card_data(card), actor=actor)
    return card


def restore_card(session: Session, actor: User | None, card_id: int) -> Card:
    with write_transaction(session):
        card = get_card(session, card_id, lock=True, viewer=actor)
        if not card.trashed:
            raise Conflict("The card is not in the trash.")
        card.trashed_at = None
        card.updated_at = utcnow()
        _hide_tasks(session, card, False)
        session.flush()
        record_history(session, card, EventType.CARD_RESTORED, actor, {})
        record_event(session, EventType.CARD_RESTORED, card_data(card), actor=actor)
    return card


def purge_card(session: Session, actor: User | None, card_id: int) -> None:
    """Delete a trashed card for good, with its tasks and history (admins only)."""
    if actor is None or not actor.is_admin:
        raise Forbidden("Only admins purge the trash.")
    with write_transaction(session):
        card = get_card(session, card_id, lock=True)
        if not card.trashed:
            raise Conflict("Only a card in the trash can be purged; delete it first.")
        data = card_data(card)
        session.delete(card)
        record_event(session, EventType.CARD_PURGED, data, actor=actor)


def history(
    session: Session,
    card_id: int,
    types: list[str],
    after: int | None,
    limit: int,
    viewer: User | None = None,
) -> list[CardHistory]:
    get_card(session, card_id, viewer=viewer)
    query = select(CardHistory).where(CardHistory.card_id == card_id)
    if types:
        exact = [kind for kind in types if "." in kind]
        prefixes = [kind for kind in types if "." not in kind]
        conditions = [CardHistory.type.in_(exact)] if exact else []
        conditions += [CardHistory.type.like(f"{prefix}.%") for prefix in prefixes]
        query = query.where(or_(*conditions))
    if after is not None:
        query = query.where(CardHistory.id > after)
    return list(session.scalars(query.order_by(CardHistory.id).limit(limit)))


# --- used by tasks and statuses -----------------------------------------------------------------


def refresh_next_task_due(session: Session, card_id: int) -> None:
    """Recompute the card's ``next_task_due`` from its open tasks, in the caller's transaction.

    The caller holds the card's row lock (``get_card(lock=True)``), so on PostgreSQL this
    statement sees every task change committed before it.
    """
    from ..tasks.models import Task

    earliest = (
        select(func.min(Task.due))
        .where(Task.card_id == card_id, Task.status == "open")
        .scalar_subquery()
    )
    session.execute(
        update(Card)
        .where(Card.id == card_id)
        .values(next_task_due=earliest, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )


def move_all_cards(
    session: Session, actor: User | None, status: Status, target: Status | None
) -> int | None:
    """Move every card of ``status`` to ``target``; ``None`` when cards exist and no target."""
    card_ids = list(session.scalars(select(Card.id).where(Card.status_id == status.id)))
    if card_ids and target is None:
        return None
    now = utcnow()
    for card_id in card_ids:
        card = session.get(Card, card_id)
        _ask_plugins(card, status, target, actor)
        card.status = target
        card.updated_at = now
        record_history(
            session,
            card,
            EventType.CARD_STATUS_CHANGED,
            actor,
            {"from": _status_ref(status), "to": _status_ref(target), "reason": "status deleted"},
            positive=target.group == "positive" and status.group != "positive",
        )
        session.flush()
        record_event(
            session,
            EventType.CARD_STATUS_CHANGED,
            {**card_data(card), "before": {"status_id": status.id, "status_group": status.group}},
            actor=actor,
        )
    return len(card_ids)


# --- helpers ----------------------------------------------------------------------------------


def _hide_tasks(session: Session, card: Card, trashed: bool) -> None:
    from ..tasks.models import Task

    session.execute(
        update(Task)
        .where(Task.card_id == card.id)
        .values(card_trashed=trashed)
        .execution_options(synchronize_session="fetch")
    )


def _keep_in_sight(session: Session, actor: User | None, card: Card) -> None:
    """A member limited to own cards may not create or hand over a card out of their sight."""
    if actor is not None and not scope_of(session, actor).sees_card(card):
        raise Forbidden("You see only your own cards here: the owner must be you or nobody.")


def _merge_fields(
    definitions: list[dict[str, Any]], stored: dict[str, Any], incoming: dict[str, Any]
) -> dict[str, Any]:
    """The card's field values after a PATCH of ``fields``.

    Keys given replace, ``null`` clears, the rest stay. A value kept for a field the product no
    longer defines is left as it was (nothing the user entered is lost), but a request may
    only set fields the product defines.
    """
    defined = {definition["key"] for definition in definitions}
    unknown = sorted(set(incoming) - defined)
    if unknown:
        clean_values(definitions, {key: incoming[key] for key in unknown})  # raises, naming them
    merged = {**stored, **incoming}
    current = {k: v for k, v in merged.items() if k in defined and v not in (None, "")}
    kept = {k: v for k, v in stored.items() if k not in defined and k not in incoming}
    return {**kept, **clean_values(definitions, current)}


def _contacts_wanted(
    session: Session, card: Card, changes: dict[str, Any], diff: dict
) -> list[int]:
    """Set the primary contact and note the changes; the other contacts the card should have
    (written by the caller, with the card's own UPDATE)."""
    check_contacts(session, changes.get("contact_id"), changes.get("contact_ids"))
    if "contact_id" in changes and changes["contact_id"] != card.contact_id:
        diff["contact_id"] = {"before": card.contact_id, "after": changes["contact_id"]}
        card.contact_id = changes["contact_id"]
    before = card.contact_ids
    wanted = changes.get("contact_ids", before)
    wanted = [cid for cid in dict.fromkeys(wanted) if cid != card.contact_id]
    if sorted(wanted) != sorted(before):
        diff["contact_ids"] = {"before": before, "after": sorted(wanted)}
    return wanted


def _status_ref(status: Status) -> dict[str, Any]:
    return {"id": status.id, "name": status.name, "group": status.group}


def _first_status(product: Product) -> Status:
    return product.statuses[0]


def _status_of(product: Product, status_id: int | None) -> Status | None:
    if status_id is None:
        return None
    for status in product.statuses:
        if status.id == status_id:
            return status
    raise Invalid({"status_id": [f"Status {status_id} is not a status of this product."]})


def _check_owner(session: Session, owner_id: int | None) -> int | None:
    if owner_id is not None and session.get(User, owner_id) is None:
        raise Invalid({"owner_id": [f"No user {owner_id}."]})
    return owner_id


def _ask_plugins(card: Card, old: Status | None, new: Status, actor: User | None) -> None:
    manager = current_app.extensions["cardcrm_plugins"]
    reasons: list[str] = []
    for result in manager.hook.cardcrm_validate_status_change(
        card=card, old_status=old, new_status=new, user=actor
    ):
        if isinstance(result, str):
            reasons.append(result)
        elif result:
            reasons.extend(str(reason) for reason in result)
    if reasons:
        raise StatusChangeRefused(reasons)
