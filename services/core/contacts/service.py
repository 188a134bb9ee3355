"""Rules for contacts: duplicates, search, history, merging and links to cards.

Contacts are the team's shared address book: every user may create, read and edit them.
Deleting or merging one ends it, so that is for admins and for the user who created it
(``may_remove``); a merge needs that right on both contacts, the one kept and the one folded in.
Neither ever touches a card the caller may not see (``core/access.py``): a contact linked to
such cards can be deleted, or merged into another, only by an admin, and the refusal says
"linked to cards" without a number, so no count of hidden cards leaks out.
"""

from __future__ import annotations

import re
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Conflict, Forbidden, Invalid, NotFound, ensure_version
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import utcnow
from cardcrm.common.translate import gettext as _
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ..access import scope_of
from ..auth.models import User
from ..cards.history import record_history
from ..cards.models import Card
from ..events import record_event
from ..textsearch import fold, phone_key
from .models import CardContact, Contact, ContactHistory, ContactIdentifier

PHONE_QUERY = re.compile(r"^\+?[\d\s()./-]*\d{3}[\d\s()./-]*$")

EDITABLE = (
    "name",
    "emails",
    "phones",
    "company_id",
    "position",
    "notes",
    "registration_number",
    "address",
    "website",
    "fields",
)


def get_contact(session: Session, contact_id: int, *, lock: bool = False) -> Contact:
    query = select(Contact).where(Contact.id == contact_id)
    if lock:
        query = query.with_for_update()
    contact = session.scalar(query)
    if contact is None:
        raise NotFound(_("No contact %(id)s.", id=contact_id))
    return contact


def contact_data(contact: Contact) -> dict[str, Any]:
    from .schemas import ContactSchema

    return ContactSchema().dump(contact)


def search(
    session: Session, q: str | None, kind: str | None, after: tuple | None, limit: int
) -> list[Contact]:
    query = select(Contact)
    if kind:
        query = query.where(Contact.kind == kind)
    if q:
        if PHONE_QUERY.match(q.strip()):
            # A phone number matches however it was written: by its digits.
            query = query.where(Contact.search_text.like(f"%{phone_key(q)}%"))
        else:
            words = fold(q.strip()).split()
            query = query.where(
                *(Contact.search_text.like(f"%{_escape(word)}%", escape="\\") for word in words)
            )
    if after is not None:
        name, contact_id = after
        query = query.where(
            or_(Contact.name > name, and_(Contact.name == name, Contact.id > contact_id))
        )
    return list(session.scalars(query.order_by(Contact.name, Contact.id).limit(limit)))


def duplicates_of(
    session: Session, emails: list[str], phones: list[str], exclude: int | None = None
) -> list[int]:
    """Ids of contacts sharing one of these e-mails or phones."""
    found = contacts_with(session, identifiers_of(emails, phones))
    return sorted({cid for ids in found.values() for cid in ids if cid != exclude})


def contacts_with(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], set[int]]:
    """The contacts holding each of ``keys`` (``(kind, value)`` identifiers), in one query."""
    found: dict[tuple[str, str], set[int]] = {}
    if not keys:
        return found
    rows = session.execute(
        select(ContactIdentifier.kind, ContactIdentifier.value, ContactIdentifier.contact_id).where(
            ContactIdentifier.value.in_({value for _kind, value in keys})
        )
    )
    for kind, value, contact_id in rows:
        if (kind, value) in keys:
            found.setdefault((kind, value), set()).add(contact_id)
    return found


def create_contact(
    session: Session, actor: User | None, data: dict[str, Any], allow_duplicate: bool
) -> Contact:
    with write_transaction(session):
        if not allow_duplicate:
            existing = duplicates_of(session, data.get("emails") or [], data.get("phones") or [])
            if existing:
                raise Conflict(
                    _(
                        "A contact with this e-mail or phone exists; add ?allow_duplicate=true "
                        "to create another anyway."
                    ),
                    existing_id=existing[0],
                )
        _check_company(session, data.get("company_id"), None)
        contact = Contact(
            kind=data.get("kind", "person"), **{key: data[key] for key in EDITABLE if key in data}
        )
        _index(session, contact, new=True)
        record_contact_history(
            session, contact, EventType.CONTACT_CREATED, actor, {"contact": contact_data(contact)}
        )
        record_event(session, EventType.CONTACT_CREATED, contact_data(contact), actor=actor)
    return contact


def update_contact(
    session: Session,
    actor: User | None,
    contact_id: int,
    changes: dict[str, Any],
    expected: set[int] | None,
) -> Contact:
    with write_transaction(session):
        contact = get_contact(session, contact_id, lock=True)
        ensure_version(contact.version, expected)
        if contact.kind == "company" and any(
            changes.get(key) for key in ("company_id", "position")
        ):
            raise Invalid({"company_id": [_("Only people belong to a company.")]})
        if "company_id" in changes:
            _check_company(session, changes["company_id"], contact.id)
        before = contact_data(contact)
        for key in EDITABLE:
            if key in changes:
                setattr(contact, key, changes[key])
        after = contact_data(contact)
        diff = {
            key: {"before": before[key], "after": after[key]}
            for key in EDITABLE
            if before[key] != after[key]
        }
        if not diff:
            return contact
        contact.updated_at = utcnow()
        _index(session, contact)
        record_contact_history(
            session, contact, EventType.CONTACT_UPDATED, actor, {"changes": diff}
        )
        record_event(
            session,
            EventType.CONTACT_UPDATED,
            {**contact_data(contact), "changes": diff},
            actor=actor,
        )
    return contact


def creator_id(session: Session, contact_id: int) -> int | None:
    """The user who created the contact (None: the system, an import without a user...).

    Read from its ``contact.created`` history row; a merge brings the other contact's rows
    along, so the row that counts is the one whose snapshot is this contact.
    """
    rows = session.execute(
        select(ContactHistory.user_id, ContactHistory.data).where(
            ContactHistory.contact_id == contact_id,
            ContactHistory.type == EventType.CONTACT_CREATED,
        )
    )
    for user_id, data in rows:
        if isinstance(data, dict) and (data.get("contact") or {}).get("id") == contact_id:
            return user_id
    return None


def may_remove(session: Session, actor: User | None, contact: Contact) -> bool:
    """Whether ``actor`` may delete ``contact`` or merge it: admins, its creator, the system."""
    if actor is None or actor.is_admin:
        return True
    return creator_id(session, contact.id) == actor.id


def delete_contact(
    session: Session, actor: User | None, contact_id: int, force: bool, expected: set[int] | None
) -> None:
    """Delete a contact; on cards it needs ``force``, and on cards out of sight an admin."""
    with write_transaction(session):
        contact = get_contact(session, contact_id, lock=True)
        _check_may_remove(session, actor, contact, "delete")
        ensure_version(contact.version, expected)
        cards = _card_ids(session, contact.id)
        if _out_of_sight(session, actor, cards):
            raise Conflict(
                _("The contact is linked to cards you cannot see; only an admin can delete it.")
            )
        if cards and not force:
            raise Conflict(
                _(
                    "The contact is on %(count)s card(s); delete with ?force=true to unlink them.",
                    count=len(cards),
                ),
                cards=len(cards),
            )
        data = contact_data(contact)
        for card_id in cards:
            record_history(
                session,
                session.get_one(Card, card_id),
                "card.contact_removed",
                actor,
                {"contact": {"id": contact.id, "name": contact.name}},
            )
        session.execute(update(Card).where(Card.contact_id == contact.id).values(contact_id=None))
        session.delete(contact)
        record_event(session, EventType.CONTACT_DELETED, data, actor=actor)


def merge_contacts(session: Session, actor: User | None, contact_id: int, other_id: int) -> Contact:
    """Fold ``other`` into the contact: its cards, history and values move over; nothing is lost.

    Lists (e-mails, phones) are united; a value only the other has fills the gap; where both
    have different values the contact's own is kept and the other's is in the history row of
    the merge (``contact.merged``), which also keeps the other contact as it was.
    """
    if contact_id == other_id:
        raise Invalid({"other_id": [_("A contact cannot be merged with itself.")]})
    with write_transaction(session):
        contact = get_contact(session, contact_id, lock=True)
        other = get_contact(session, other_id, lock=True)
        _check_may_remove(session, actor, contact, "merge")
        _check_may_remove(session, actor, other, "merge")
        if linked_to_cards_out_of_sight(session, actor, other.id):
            raise Conflict(
                _(
                    "The other contact is linked to cards you cannot see; "
                    "only an admin can merge it."
                )
            )
        if contact.kind != other.kind:
            raise Invalid({"other_id": [_("Only contacts of the same kind can be merged.")]})
        snapshot = contact_data(other)
        contact.emails = _union(contact.emails, other.emails)
        contact.phones = _union(contact.phones, other.phones)
        conflicts = {}
        for key in ("company_id", "position", "notes", "registration_number", "address", "website"):
            mine, theirs = getattr(contact, key), getattr(other, key)
            if mine in (None, "") and theirs not in (None, ""):
                setattr(contact, key, theirs)
            elif theirs not in (None, "") and theirs != mine:
                conflicts[key] = theirs
        fields = dict(contact.fields)
        for key, value in (other.fields or {}).items():
            if key not in fields or fields[key] in (None, ""):
                fields[key] = value
            elif fields[key] != value:
                conflicts[f"fields.{key}"] = value
        contact.fields = fields
        contact.updated_at = utcnow()
        # Cards: the primary contact and the other contacts move over.
        moved_cards = _card_ids(session, other.id)
        session.execute(
            update(Card).where(Card.contact_id == other.id).values(contact_id=contact.id)
        )
        linked = set(
            session.scalars(select(CardContact.card_id).where(CardContact.contact_id == contact.id))
        )
        for card_id in session.scalars(
            select(CardContact.card_id).where(CardContact.contact_id == other.id)
        ).all():
            if card_id not in linked:
                session.add(CardContact(card_id=card_id, contact_id=contact.id))
        session.execute(delete(CardContact).where(CardContact.contact_id == other.id))
        session.execute(
            delete(CardContact).where(
                CardContact.contact_id == contact.id,
                CardContact.card_id.in_(select(Card.id).where(Card.contact_id == contact.id)),
            )
        )
        # History rows and people of a merged company move over.
        session.execute(
            update(ContactHistory)
            .where(ContactHistory.contact_id == other.id)
            .values(contact_id=contact.id)
        )
        session.execute(
            update(Contact).where(Contact.company_id == other.id).values(company_id=contact.id)
        )
        session.flush()
        merge = {"other": snapshot, "conflicts": conflicts, "cards": sorted(moved_cards)}
        record_contact_history(session, contact, EventType.CONTACT_MERGED, actor, merge)
        for card_id in moved_cards:
            record_history(
                session,
                session.get_one(Card, card_id),
                "card.contact_merged",
                actor,
                {"from": other.id, "into": contact.id},
            )
        session.delete(other)
        session.flush()
        _index(session, contact)
        record_event(
            session,
            EventType.CONTACT_MERGED,
            {**contact_data(contact), "merged_id": other_id},
            actor=actor,
        )
    return contact


def history(
    session: Session, contact_id: int, after: int | None, limit: int
) -> list[ContactHistory]:
    get_contact(session, contact_id)
    query = select(ContactHistory).where(ContactHistory.contact_id == contact_id)
    if after is not None:
        query = query.where(ContactHistory.id > after)
    return list(session.scalars(query.order_by(ContactHistory.id).limit(limit)))


def record_contact_history(
    session: Session, contact: Contact, type: str, actor: User | None, data: dict[str, Any]
) -> None:
    session.add(
        ContactHistory(
            contact_id=contact.id,
            type=type,
            user_id=actor.id if actor else None,
            data=data,
            at=utcnow(),
        )
    )


# --- cards ------------------------------------------------------------------------------------


def check_contacts(session: Session, contact_id: int | None, contact_ids: list[int] | None) -> None:
    wanted = {contact_id} if contact_id is not None else set()
    wanted |= set(contact_ids or [])
    if not wanted:
        return
    found = set(session.scalars(select(Contact.id).where(Contact.id.in_(wanted))))
    missing = sorted(wanted - found)
    if missing:
        key = "contact_id" if contact_id in missing else "contact_ids"
        raise Invalid({key: [_("No contact %(ids)s.", ids=", ".join(map(str, missing)))]})


def set_card_contacts(session: Session, card: Card, contact_ids: list[int]) -> None:
    """Replace a card's other contacts (the primary one is never repeated among them)."""
    wanted = [cid for cid in dict.fromkeys(contact_ids) if cid != card.contact_id]
    session.execute(delete(CardContact).where(CardContact.card_id == card.id))
    session.add_all(CardContact(card_id=card.id, contact_id=cid) for cid in wanted)


def card_contact_ids(session: Session, card_ids: list[int]) -> dict[int, list[int]]:
    result: dict[int, list[int]] = {card_id: [] for card_id in card_ids}
    if card_ids:
        rows = session.execute(
            select(CardContact.card_id, CardContact.contact_id)
            .where(CardContact.card_id.in_(card_ids))
            .order_by(CardContact.card_id, CardContact.contact_id)
        )
        for card_id, contact_id in rows:
            result[card_id].append(contact_id)
    return result


def cards_of(session: Session, contact_id: int, visible: Any = None) -> list[Card]:
    """The contact's cards (primary or other), not trashed, by product then deadline."""
    get_contact(session, contact_id)
    query = select(Card).where(
        or_(
            Card.contact_id == contact_id,
            Card.id.in_(select(CardContact.card_id).where(CardContact.contact_id == contact_id)),
        ),
        Card.trashed_at.is_(None),
    )
    if visible is not None:
        query = query.where(visible)
    return list(
        session.scalars(
            query.order_by(
                Card.product_id, Card.next_task_due.is_(None), Card.next_task_due, Card.id
            )
        )
    )


# --- helpers ----------------------------------------------------------------------------------


def _check_may_remove(session: Session, actor: User | None, contact: Contact, verb: str) -> None:
    if not may_remove(session, actor, contact):
        raise Forbidden(
            _(
                "Only an admin or the user who created the contact %(id)s may delete it.",
                id=contact.id,
            )
            if verb == "delete"
            else _(
                "Only an admin or the user who created the contact %(id)s may merge it.",
                id=contact.id,
            )
        )


def linked_to_cards_out_of_sight(session: Session, actor: User | None, contact_id: int) -> bool:
    """Whether the contact is on cards (trashed ones too) that ``actor`` may not see."""
    return _out_of_sight(session, actor, _card_ids(session, contact_id))


def _out_of_sight(session: Session, actor: User | None, card_ids: list[int]) -> bool:
    condition = scope_of(session, actor).cards_condition()
    if condition is None or not card_ids:
        return False
    visible = session.scalar(
        select(func.count()).select_from(Card).where(Card.id.in_(card_ids), condition)
    )
    return visible != len(card_ids)


def _card_ids(session: Session, contact_id: int) -> list[int]:
    primary = set(session.scalars(select(Card.id).where(Card.contact_id == contact_id)))
    other = set(
        session.scalars(select(CardContact.card_id).where(CardContact.contact_id == contact_id))
    )
    return sorted(primary | other)


def _index(session: Session, contact: Contact, new: bool = False) -> None:
    """Refresh the search text and the identifiers used for duplicate detection."""
    contact.search_text = search_text_of(contact.name, contact.emails, contact.phones)
    if new:
        session.add(contact)
    session.flush()
    session.execute(delete(ContactIdentifier).where(ContactIdentifier.contact_id == contact.id))
    session.add_all(
        ContactIdentifier(contact_id=contact.id, kind=kind, value=value)
        for kind, value in identifiers_of(contact.emails, contact.phones)
    )
    session.flush()


def search_text_of(name: str, emails: list[str] | None, phones: list[str] | None) -> str:
    """What a contact is found by: its name and e-mails folded, its phones by their digits."""
    return " ".join(
        [fold(name)]
        + [fold(email) for email in emails or []]
        + [phone_key(phone) for phone in phones or []]
    )


def identifiers_of(emails: list[str] | None, phones: list[str] | None) -> set[tuple[str, str]]:
    """The ``(kind, value)`` keys that tell a contact's duplicates."""
    keys = {("email", value) for value in _emails(emails or [])}
    return keys | {("phone", value) for value in _phones(phones or [])}


def _emails(values: list[str]) -> list[str]:
    return [value.strip().lower() for value in values if value and value.strip()]


def _phones(values: list[str]) -> list[str]:
    return [number for number in (phone_key(value) for value in values) if len(number) >= 5]


def _union(first: list[str], second: list[str]) -> list[str]:
    seen, result = set(), []
    for value in [*(first or []), *(second or [])]:
        key = value.strip().lower()
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result


def _check_company(session: Session, company_id: int | None, contact_id: int | None) -> None:
    if company_id is None:
        return
    company = session.get(Contact, company_id)
    if company is None or company.kind != "company" or company.id == contact_id:
        raise Invalid({"company_id": [_("Name an existing company contact.")]})


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
