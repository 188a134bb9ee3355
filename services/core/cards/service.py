"""Rules for cards: create, edit, move between statuses, trash and restore, and history."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from cardcrm.common import rawsql
from cardcrm.common.db import insert_loaded, write_transaction
from cardcrm.common.errors import Conflict, Forbidden, Invalid, NotFound, ensure_version
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import utcnow
from cardcrm.common.translate import gettext as _
from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..access import check_card
from ..auth.models import User
from ..contacts.service import check_contacts, set_card_contacts
from ..events import record_event
from ..files.contents import release_contents, remove_files_of_cards
from ..files.storage import get_storage
from ..products.models import Product, Status
from ..products.service import get_product
from ..tasks.models import Task
from .amount import amount_cents, money_key
from .changes import (
    CardChange,
    card_json,
    change_card,
    check_in_sight,
    check_status_change,
    record_creation,
)
from .fields import clean_values, merge_fields
from .history import record_history
from .models import Card, CardHistory
from .search_text import card_search_text


def get_card(
    session: Session,
    card_id: int,
    *,
    lock: bool = False,
    viewer: User | None = None,
    also: Sequence[Any] = (),
) -> Card:
    """The card; with ``viewer``, only if that user may see it (else 404, as if none).

    ``also``: relationships loaded in the same query (``Card.contact_links``, ``Card.product``),
    which the caller reads anyway (each lazy load is a query of its own)."""
    if lock:
        # The lock is taken by a query without the join: once it has waited for another writer,
        # PostgreSQL re-checks the changed card row against the status row it had joined
        # before, so a card whose status that writer changed came back as no row (a false 404).
        # Read after the lock, the card is its latest committed version.
        rawsql.execute(session.connection(), _LOCK_CARD, {"card_id": card_id})
    query = _card_query(tuple(relationship.key for relationship in also), lock)
    card = session.execute(query, {"card_id": card_id}).unique().scalar_one_or_none()
    if card is None:
        raise NotFound(_("No card %(id)s.", id=card_id))
    if viewer is not None:
        check_card(session, viewer, card)
    return card


#: ``get_card``'s lock: the card's row alone (run on the driver's cursor, ``rawsql``).
_LOCK_CARD = select(Card.id).where(Card.id == bindparam("card_id")).with_for_update()


@functools.cache
def _card_query(also: tuple[str, ...], fresh: bool) -> Select[Any]:
    """``get_card``'s query for the relationships named ``also``, built once: built on every
    call, with its loader options, it cost about as much as running it (a quarter of a card
    edit's CPU went to reading the card). ``fresh``: read after the lock, the card's values
    replace those the session may hold."""
    # The status comes in the same query (an inner join: every card has one).
    query = select(Card).where(Card.id == bindparam("card_id"))
    query = query.options(joinedload(Card.status, innerjoin=True))
    query = query.options(*(joinedload(getattr(Card, key)) for key in also))
    return query.execution_options(populate_existing=True) if fresh else query


def get_live_card(
    session: Session,
    card_id: int,
    *,
    lock: bool = False,
    viewer: User | None = None,
    also: Sequence[Any] = (),
) -> Card:
    """A card that may be changed: one in the trash must be restored first."""
    return check_live(get_card(session, card_id, lock=lock, viewer=viewer, also=also))


def lock_live_card(
    session: Session, query: Select[Any], parameters: dict[str, Any], viewer: User | None
) -> Card | None:
    """The card ``query`` (a ``select(Card)`` with bound parameters, a module's constant) finds
    with ``parameters``, its row locked and read by that one statement, checked like
    ``get_live_card``'s; None when there is none.

    For the writes that need neither the card's status nor its contacts (a task's): joined
    to the card, those rows would be the ones read before the lock was granted (see
    ``get_card``). The query may join rows the card's writers never change (its product, the
    task being written, whose card stays the same)."""
    card = session.scalar(_locking(query), parameters)
    if card is not None and viewer is not None:
        check_card(session, viewer, card)
    return check_live(card) if card is not None else None


@functools.lru_cache(maxsize=32)  # bounded, should a caller pass queries it builds each time
def _locking(query: Select[Any]) -> Select[Any]:
    """``query`` locking the card's row, its values replacing those the session may hold;
    made once per query (built on each write, it cost as much as running it)."""
    return query.with_for_update(of=Card).execution_options(populate_existing=True)


def check_live(card: Card) -> Card:
    """The card, unless it is in the trash (409: restore it first)."""
    if card.trashed:
        raise Conflict(_("The card is in the trash; restore it before changing it."))
    return card


def create_card(
    session: Session, actor: User | None, product_id: int, data: dict[str, Any]
) -> Card:
    with write_transaction(session):
        # Under its share lock: the money field it names stays the one of the card's amount.
        product = get_product(session, product_id, viewer=actor, share_lock=True)
        status = _status_of(product, data.get("status_id")) or _first_status(product)
        check_contacts(session, data.get("contact_id"), data.get("contact_ids"))
        card = Card(
            product=product,
            product_id=product.id,
            status=status,
            status_id=status.id,
            title=data["title"],
            owner_id=_check_owner(session, data.get("owner_id")),
            contact_id=data.get("contact_id"),
            fields=clean_values(product.fields, data.get("fields") or {}),
        )
        check_in_sight(session, actor, card)
        check_status_change(card, None, status, actor)
        card = _insert(session, card)
        if data.get("contact_ids"):
            set_card_contacts(session, card, data["contact_ids"])
            session.flush()
            session.refresh(card, ["contact_links"])
        record_creation(session, actor, card, card_json(card))
    return card


def _insert(session: Session, new: Card) -> Card:
    """Insert ``new`` (a card made but not added, with its product, read under the product's
    share lock, and its status) as one Core ``INSERT ... RETURNING`` (``insert_loaded``),
    and give back the card, loaded and in ``session`` with its product, its status and no
    other contacts, as if the ORM had flushed it.

    Its search text and amount are computed here, as ``models``' insert listener computes
    them for a card the ORM inserts, but from the product already read: the listener reads
    the product's money field again (a statement), and the ORM's flush of one card (its unit
    of work, the listener, the version counter) cost more CPU than this statement. Together:
    2.12-2.79 against 1.71-2.17 ms of CPU per card created, in process on PostgreSQL."""
    card = insert_loaded(
        session,
        new,
        search_text=card_search_text(new.title, new.fields),
        amount_cents=amount_cents(new.fields, money_key(new.product.fields)),
    )
    set_committed_value(card, "product", new.product)
    set_committed_value(card, "status", new.status)
    set_committed_value(card, "contact_links", [])  # a new card's: known without asking
    return card


def update_card(
    session: Session,
    actor: User | None,
    card_id: int,
    changes: dict[str, Any],
    expected: set[int] | None,
) -> Card:
    """Edit a card or move it (a PATCH: the keys given change, the rest stay)."""
    with write_transaction(session):
        # Its answer reads its contacts; a move or new values read its product.
        card = get_live_card(session, card_id, lock=True, viewer=actor, also=_CONTACTS_PRODUCT)
        ensure_version(card.version, expected)
        with session.no_autoflush:
            values = _new_values(session, card, changes)
        change_card(session, actor, CardChange.of(card, values))
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
        record_event(session, EventType.CARD_DELETED, card_json(card), actor=actor)
    return card


def restore_card(session: Session, actor: User | None, card_id: int) -> Card:
    with write_transaction(session):
        card = get_card(session, card_id, lock=True, viewer=actor)
        if not card.trashed:
            raise Conflict(_("The card is not in the trash."))
        card.trashed_at = None
        card.updated_at = utcnow()
        _hide_tasks(session, card, False)
        session.flush()
        record_history(session, card, EventType.CARD_RESTORED, actor, {})
        record_event(session, EventType.CARD_RESTORED, card_json(card), actor=actor)
    return card


def purge_card(session: Session, actor: User | None, card_id: int) -> None:
    """Delete a trashed card for good, with its tasks, history and files (admins only).

    The files' bytes are deleted after the commit, those no other card's file names."""
    if actor is None or not actor.is_admin:
        raise Forbidden(_("Only admins purge the trash."))
    with write_transaction(session):
        card = get_card(session, card_id, lock=True)
        if not card.trashed:
            raise Conflict(_("Only a card in the trash can be purged; delete it first."))
        data = card_json(card)
        contents = remove_files_of_cards(session, [card.id])
        session.delete(card)
        record_event(session, EventType.CARD_PURGED, data, actor=actor)
    release_contents(session, get_storage(), contents)


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
    statement sees every task change committed before it. The session's changes are flushed
    first (a task just added counts); the new values come back with the update, and a card
    the session holds takes them as loaded (no read after, no expired attributes). One
    statement built once: the ORM's bulk update built and synchronized it on every task
    change, a fifth of the change's time.
    """
    session.flush()
    row = (
        session.connection().execute(_NEXT_TASK_DUE, {"card_id": card_id, "now": utcnow()}).first()
    )
    card = session.identity_map.get(identity_key(Card, card_id))
    if row is not None and card is not None:
        set_committed_value(card, "next_task_due", row.next_task_due)
        set_committed_value(card, "updated_at", row.updated_at)


def _next_task_due() -> Any:
    cards, tasks = Card.__table__.c, Task.__table__.c
    earliest = (
        select(func.min(tasks.due))
        .where(tasks.card_id == bindparam("card_id"), tasks.status == "open")
        .scalar_subquery()
    )
    table: Any = Card.__table__
    return (
        update(table)
        .where(cards.id == bindparam("card_id"))
        .values(next_task_due=earliest, updated_at=bindparam("now", type_=cards.updated_at.type))
        .returning(cards.next_task_due, cards.updated_at)
    )


_NEXT_TASK_DUE = _next_task_due()


# --- helpers ----------------------------------------------------------------------------------


def _hide_tasks(session: Session, card: Card, trashed: bool) -> None:
    session.execute(
        update(Task)
        .where(Task.card_id == card.id)
        .values(card_trashed=trashed)
        .execution_options(synchronize_session="fetch")
    )


def _new_values(session: Session, card: Card, changes: dict[str, Any]) -> dict[str, Any]:
    """A PATCH's changes checked, as ``CardChange.of`` takes them."""
    values: dict[str, Any] = {}
    if "title" in changes:
        values["title"] = changes["title"]
    if "owner_id" in changes and changes["owner_id"] != card.owner_id:
        values["owner_id"] = _check_owner(session, changes["owner_id"])
    if "fields" in changes:
        definitions = card.product.fields
        values["fields"] = merge_fields(definitions, card.fields, changes["fields"] or {})
    if "contact_id" in changes or "contact_ids" in changes:
        check_contacts(session, changes.get("contact_id"), changes.get("contact_ids"))
        primary = changes.get("contact_id", card.contact_id)
        wanted = changes.get("contact_ids", card.contact_ids)
        values["contact_id"] = primary
        values["contact_ids"] = [cid for cid in dict.fromkeys(wanted) if cid != primary]
    if "status_id" in changes and changes["status_id"] != card.status_id:
        values["status"] = _product_status(session, card.product_id, changes["status_id"])
    return values


def _first_status(product: Product) -> Status:
    return product.statuses[0]


def _status_of(product: Product, status_id: int | None) -> Status | None:
    if status_id is None:
        return None
    for status in product.statuses:
        if status.id == status_id:
            return status
    raise Invalid(_not_a_status(status_id))


_CONTACTS_PRODUCT = (Card.contact_links, Card.product)


def _product_status(session: Session, product_id: int, status_id: int) -> Status:
    """``_status_of`` the card's product by the status's own row: one query by key, where the
    product's statuses were another (the product comes with the card)."""
    status = session.get(Status, status_id)
    if status is None or status.product_id != product_id:
        raise Invalid(_not_a_status(status_id))
    return status


def _not_a_status(status_id: int) -> dict[str, list[str]]:
    return {"status_id": [_("Status %(id)s is not a status of this product.", id=status_id)]}


def _check_owner(session: Session, owner_id: int | None) -> int | None:
    if owner_id is not None and session.get(User, owner_id) is None:
        raise Invalid({"owner_id": [_("No user %(id)s.", id=owner_id)]})
    return owner_id
