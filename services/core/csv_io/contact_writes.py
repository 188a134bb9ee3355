"""Writing a checked contact import: the spooled plans, in batches (``batches``), in bulk.

Each batch inserts its new contacts with ids of their own (a company before the people of
later lines who name it), updates its changed contacts (one version each), replaces their
identifiers, then writes their history rows and events, each list in one statement. The rows
are those ``create_contact`` and ``update_contact`` write: the same search text and
identifiers (``search_text_of``, ``identifiers_of``), ``contact.created`` with the contact,
``contact.updated`` with its ``changes``, the payload ``contact_data``'s.

Under each batch's lock it checks first that the contacts it changes are as the check saw
them (version, company), that the companies it names still exist, and, unless duplicates are
allowed, that nobody created a contact with one of its new e-mails or phones meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from cardcrm.common.bulk import JsonText, execute_many, json_text, reserve_ids
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import isoformat_z, utcnow
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..contacts.models import Contact, ContactHistory, ContactIdentifier
from ..contacts.service import EDITABLE, contacts_with
from ..events.outbox import insert_events
from .batches import Progress, write_in_batches
from .spool import PlanSpool


class NewContact(NamedTuple):
    """A checked row that creates a contact: every editable value, and (``company_line``) the
    line of the file that creates its company, when it is one."""

    line: int
    kind: str
    values: dict[str, Any]
    company_line: int | None
    search_text: str
    identifiers: tuple[tuple[str, str], ...]


class ContactUpdate(NamedTuple):
    """A checked row that changes a contact: as it was when checked, and its new values."""

    line: int
    contact_id: int
    version: int
    company_before: int | None
    kind: str
    created_at: datetime
    values: dict[str, Any]
    diff: dict[str, dict[str, Any]]
    company_line: int | None
    search_text: str
    identifiers: tuple[tuple[str, str], ...]


Plan = NewContact | ContactUpdate

#: A changed contact's one UPDATE, only if it is still at the version the check saw.
UPDATE_CONTACT = (
    update(Contact)
    .where(Contact.id == bindparam("b_id"), Contact.version == bindparam("b_version"))
    .values(
        {key: bindparam(key) for key in EDITABLE}
        | {
            "search_text": bindparam("search_text"),
            "updated_at": bindparam("updated_at"),
            "version": bindparam("version"),
        }
    )
)


def write_contacts(
    session: Session, actor: User | None, spool: PlanSpool, allow_duplicate: bool
) -> None:
    """Write the spooled plans of a checked file, batch by batch."""
    batches = _ContactBatches(session, actor, allow_duplicate)
    is_new = lambda plan: isinstance(plan, NewContact)  # noqa: E731
    write_in_batches(session, spool, lambda batch: batch, batches.write, is_new)


class _ContactBatches:
    def __init__(self, session: Session, actor: User | None, allow_duplicate: bool) -> None:
        self.session, self.actor, self.allow_duplicate = session, actor, allow_duplicate
        #: The companies this import created: line of the file → id.
        self.companies: dict[int, int] = {}

    def write(self, batch: list[Plan], progress: Progress) -> None:
        self._check_still_valid(batch, progress)
        session, actor = self.session, self.actor
        now = utcnow()
        stamp = isoformat_z(now) or ""
        actor_id = actor.id if actor else None
        new_ids = iter(
            reserve_ids(session, Contact.__table__, sum(isinstance(p, NewContact) for p in batch))
        )
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        identifiers: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        events: list[tuple[EventType, dict[str, Any], JsonText | None]] = []
        for plan in batch:
            values = dict(plan.values)
            if plan.company_line is not None:
                values["company_id"] = self.companies[plan.company_line]
            if isinstance(plan, NewContact):
                contact_id = next(new_ids)
                if plan.kind == "company":
                    self.companies[plan.line] = contact_id
                row = {"id": contact_id, "kind": plan.kind, **values}
                inserts.append(
                    row
                    | {"search_text": plan.search_text, "created_at": now, "updated_at": now}
                    | {"version": 1}
                )
                data = contact_data(contact_id, plan.kind, values, stamp, stamp, 1)
                text = json_text(data)
                history.append(
                    _history(contact_id, EventType.CONTACT_CREATED, now, actor_id)
                    | {"data": JsonText('{"contact": ' + text + "}")}
                )
                events.append((EventType.CONTACT_CREATED, data, text))
            else:
                contact_id = plan.contact_id
                diff = dict(plan.diff)
                if "company_id" in diff:
                    diff["company_id"] = {**diff["company_id"], "after": values["company_id"]}
                version = plan.version + 1
                updates.append(
                    {"b_id": contact_id, "b_version": plan.version, **values}
                    | {"search_text": plan.search_text, "updated_at": now, "version": version}
                )
                created = isoformat_z(plan.created_at) or ""
                data = contact_data(contact_id, plan.kind, values, created, stamp, version)
                changes = {"changes": diff}
                history.append(
                    _history(contact_id, EventType.CONTACT_UPDATED, now, actor_id)
                    | {"data": changes}
                )
                events.append((EventType.CONTACT_UPDATED, {**data, **changes}, None))
            identifiers += (
                {"contact_id": contact_id, "kind": kind, "value": value}
                for kind, value in plan.identifiers
            )
        changed = [plan.contact_id for plan in batch if isinstance(plan, ContactUpdate)]
        execute_many(session, insert(Contact), inserts)
        execute_many(session, UPDATE_CONTACT, updates)
        if changed:
            session.execute(
                delete(ContactIdentifier).where(ContactIdentifier.contact_id.in_(changed))
            )
        execute_many(session, insert(ContactIdentifier), identifiers)
        execute_many(session, insert(ContactHistory), history)
        insert_events(session, events, actor=actor, at=now)  # last: see insert_events

    def _check_still_valid(self, batch: list[Plan], progress: Progress) -> None:
        session = self.session
        named = {plan.values.get("company_id") for plan in batch if plan.company_line is None} - {
            None
        }
        if named:
            found = set(
                session.scalars(
                    select(Contact.id).where(Contact.id.in_(named), Contact.kind == "company")
                )
            )
            for plan in batch:
                company_id = plan.values.get("company_id")
                if plan.company_line is None and company_id not in found | {None}:
                    raise progress.interrupted(plan.line, f"company {company_id} was deleted.")
        changed = {plan.contact_id: plan for plan in batch if isinstance(plan, ContactUpdate)}
        if changed:
            live = {
                row.id: (row.version, row.company_id)
                for row in session.execute(
                    select(Contact.id, Contact.version, Contact.company_id)
                    .where(Contact.id.in_(changed))
                    .with_for_update()
                )
            }
            for contact_id, plan in changed.items():
                if live.get(contact_id) != (plan.version, plan.company_before):
                    raise progress.interrupted(
                        plan.line, f"contact {contact_id} changed after the file was checked."
                    )
        if not self.allow_duplicate:
            wanted = {
                key for plan in batch if isinstance(plan, NewContact) for key in plan.identifiers
            }
            taken = contacts_with(session, wanted)
            for plan in batch:
                if isinstance(plan, NewContact) and taken.keys() & set(plan.identifiers):
                    existing = min(cid for key in plan.identifiers for cid in taken.get(key, ()))
                    raise progress.interrupted(
                        plan.line,
                        f"contact {existing} with the same e-mail or phone was created meanwhile.",
                    )


def _history(contact_id: int, type: EventType, at: datetime, user_id: int | None) -> dict[str, Any]:
    return {"contact_id": contact_id, "type": type.value, "at": at, "user_id": user_id}


def contact_data(
    contact_id: int,
    kind: str,
    values: dict[str, Any],
    created_at: str,
    updated_at: str,
    version: int,
) -> dict[str, Any]:
    """``contacts.service.contact_data`` of the contact as a batch writes it."""
    return {
        "id": contact_id,
        "kind": kind,
        "name": values["name"],
        "emails": list(values["emails"]),
        "phones": list(values["phones"]),
        "company_id": values["company_id"],
        "position": values["position"],
        "notes": values["notes"],
        "registration_number": values["registration_number"],
        "address": values["address"],
        "website": values["website"],
        "fields": dict(values["fields"]),
        "created_at": created_at,
        "updated_at": updated_at,
        "version": version,
    }
