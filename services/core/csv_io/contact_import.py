"""Importing contacts from CSV: check every row, then write all of them or none.

As for cards, the file is read twice in one write transaction (check, then write). A row with
an ``id`` updates that contact; a row without one creates a contact, unless it shares an
e-mail or phone with an existing contact or an earlier line (a bad row, unless duplicates are
allowed). A person's company is named by ``company_id`` or by ``company``: the exact name of
an existing company or of one created by an earlier line of the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import utcnow
from marshmallow import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..contacts.models import KINDS, Contact
from ..contacts.schemas import ContactCreateSchema, ContactUpdateSchema

# The contact rules' own helpers: the same search text, identifiers and duplicate keys.
from ..contacts.service import (
    EDITABLE,
    _emails,
    _index,
    _phones,
    contact_data,
    duplicates_of,
    record_contact_history,
)
from ..events import record_event
from .contacts import COLUMNS
from .parsing import (
    ID,
    CsvFile,
    ImportRefused,
    ImportResult,
    Record,
    RowError,
    check_version,
    chunked,
    claim_id,
    fold_name,
    read_header,
    records,
    split_list,
)

TEXT_COLUMNS = ("position", "registration_number", "address", "website", "notes")


def import_contacts(
    session: Session,
    actor: User | None,
    source: CsvFile,
    *,
    dry_run: bool = False,
    allow_duplicate: bool = False,
) -> ImportResult:
    """Create and update contacts from ``source``; every row or none (``ImportRefused``)."""
    if dry_run:
        try:
            return _ContactImport(session, actor, allow_duplicate).run(source)
        finally:
            session.rollback()
    with write_transaction(session):
        _ContactImport(session, actor, allow_duplicate, lock=True).run(source)
        return _ContactImport(session, actor, allow_duplicate, lock=True).run(source, write=True)


@dataclass
class _Plan:
    line: int
    contact: Contact | None
    kind: str
    data: dict[str, Any]
    diff: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        if self.contact is None:
            return "created"
        return "updated" if self.diff else "unchanged"


@dataclass
class _Lookups:
    contacts: dict[int, Contact]
    #: company id → name, and exact name → ids of the companies so named
    companies: dict[int, str]
    companies_named: dict[str, list[int]]


class _ContactImport:
    """One pass over the file."""

    def __init__(
        self, session: Session, actor: User | None, allow_duplicate: bool, lock: bool = False
    ) -> None:
        self.session, self.actor, self.lock = session, actor, lock
        self.allow_duplicate = allow_duplicate
        self.seen: dict[int, int] = {}
        #: identifiers (e-mails, phones) of the file's lines so far → line
        self.identifiers: dict[tuple[str, str], int] = {}
        #: companies the file creates: exact name → lines (first pass) or new ids (second)
        self.new_companies: dict[str, list[int]] = {}
        self.created: set[int] = set()

    def run(self, source: CsvFile, write: bool = False) -> ImportResult:
        rows = source.rows()
        first = next(rows, None)
        if first is None:
            raise ImportRefused([RowError(1, "The file is empty; it needs a header line.")])
        columns, problems = read_header(
            first[1], lambda name: fold_name(name) if fold_name(name) in COLUMNS else None, COLUMNS
        )
        if not problems and not {"id", "name"} & set(columns):
            problems.append(
                "The file needs a name column to create contacts, or an id column to update them."
            )
        if problems:
            raise ImportRefused([RowError(1, " ".join(problems))])
        result = ImportResult(dry_run=not self.lock)
        for chunk in chunked(records(rows, columns)):
            good = [item for item in chunk if isinstance(item, Record)]
            result.errors += [item for item in chunk if isinstance(item, RowError)]
            lookups = self._lookups(good)
            for record in good:
                # Row by row: a person may name a company created by the line before.
                planned = self._plan(record, lookups)
                if isinstance(planned, RowError):
                    result.errors.append(planned)
                    continue
                result.count(planned.outcome)
                if write and not result.errors:
                    self._write(planned)
        if result.errors:
            raise ImportRefused(sorted(result.errors, key=lambda error: error.line))
        return result

    def _lookups(self, rows: list[Record]) -> _Lookups:
        ids = {int(row.get("id")) for row in rows if ID.match(row.get("id"))}
        query = select(Contact).where(Contact.id.in_(ids))
        contacts = {
            contact.id: contact
            for contact in self.session.scalars(query.with_for_update() if self.lock else query)
        }
        company_ids = {
            int(row.get("company_id")) for row in rows if ID.match(row.get("company_id"))
        }
        company_ids |= {contact.company_id for contact in contacts.values() if contact.company_id}
        names = {row.get("company") for row in rows if row.get("company")}
        companies: dict[int, str] = {}
        named: dict[str, list[int]] = {}
        if company_ids or names:
            for company_id, name in self.session.execute(
                select(Contact.id, Contact.name)
                .where(
                    Contact.kind == "company",
                    or_(Contact.id.in_(company_ids), Contact.name.in_(names)),
                )
                .order_by(Contact.id)
            ):
                if company_id in self.created:
                    continue  # the file's own new companies are counted apart
                companies[company_id] = name
                named.setdefault(name, []).append(company_id)
        return _Lookups(contacts, companies, named)

    # --- checking a row -----------------------------------------------------------------------

    def _plan(self, row: Record, lookups: _Lookups) -> _Plan | RowError:
        problems: list[str] = []
        contact = self._existing(row, lookups, problems)
        if problems:
            return RowError(row.line, " ".join(problems))
        kind = row.get("kind").casefold() or (contact.kind if contact else "person")
        if kind not in KINDS:
            problems.append(f"kind: {row.get('kind')!r} is neither person nor company.")
        elif contact is not None and kind != contact.kind:
            problems.append(f"kind: contact {contact.id} is a {contact.kind}; it cannot change.")
        if contact is None and kind == "company" and row.get("name"):
            self.new_companies.setdefault(row.get("name"), []).append(row.line)
        data = self._values(row, problems)
        self._company(row, contact, lookups, data, problems)
        if not problems:
            data = self._validate(kind, contact, data, problems)
        if contact is None:
            self._check_duplicates(data, problems)
        self._remember_identifiers(row, data)
        if problems:
            return RowError(row.line, " ".join(problems))
        plan = _Plan(row.line, contact, kind, data)
        if contact is not None:
            plan.diff = {
                key: {"before": getattr(contact, key), "after": data[key]}
                for key in EDITABLE
                if key in data and getattr(contact, key) != data[key]
            }
            if plan.diff:
                check_version(row, "contact", contact, problems)
        return RowError(row.line, " ".join(problems)) if problems else plan

    def _existing(self, row: Record, lookups: _Lookups, problems: list[str]) -> Contact | None:
        contact_id = claim_id(row, "contact", self.seen, problems)
        if contact_id is None:
            return None
        contact = lookups.contacts.get(contact_id)
        if contact is None:
            problems.append(f"id: no contact {contact_id} (leave id empty to create a contact).")
        return contact

    def _values(self, row: Record, problems: list[str]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if row.has("name"):
            data["name"] = row.get("name")
            if not data["name"]:
                problems.append("name: a contact needs a name.")
        for column in ("emails", "phones"):
            if row.has(column):
                data[column] = split_list(row.get(column))
        for column in TEXT_COLUMNS:
            if row.has(column):
                text = row.raw(column) if column in ("notes", "address") else row.get(column)
                data[column] = text if text.strip() else None
        if row.has("fields"):
            data["fields"] = {}
            if row.get("fields"):
                try:
                    data["fields"] = json.loads(row.get("fields"))
                except ValueError:
                    problems.append('fields: not a JSON object (like {"size": "large"}).')
        return data

    def _company(
        self,
        row: Record,
        contact: Contact | None,
        lookups: _Lookups,
        data: dict[str, Any],
        problems: list[str],
    ) -> None:
        """Set ``data["company_id"]`` from the row's company_id or company (name) cell."""
        if not (row.has("company") or row.has("company_id")):
            return
        raw, name = row.get("company_id"), row.get("company")
        data["company_id"] = None
        if raw:
            company_id = int(raw) if ID.match(raw) else None
            if company_id not in lookups.companies:
                problems.append(f"company_id: no company {raw}.")
            elif name and fold_name(name) != fold_name(lookups.companies[company_id]):
                problems.append(
                    f"company: {name!r} is not the name of company {company_id} "
                    f"({lookups.companies[company_id]!r}); empty company_id to choose the "
                    "company by its name."
                )
            else:
                data["company_id"] = company_id
            return
        if not name:
            return
        if contact is not None and contact.company_id is not None:
            current = lookups.companies.get(contact.company_id)
            if current is not None and fold_name(current) == fold_name(name):
                data["company_id"] = contact.company_id
                return
        found = lookups.companies_named.get(name, [])
        in_file = self.new_companies.get(name, [])
        if len(found) + len(in_file) == 1:
            if found:
                data["company_id"] = found[0]
            elif in_file[0] in self.created:
                # Second pass: the earlier line's company exists now (its entry is its id).
                data["company_id"] = in_file[0]
            return
        if not found and not in_file:
            problems.append(
                f"company: no company is named {name!r}; add it on an earlier line, import it "
                "first, or give company_id."
            )
        else:
            problems.append(
                f"company: {len(found) + len(in_file)} companies are named {name!r}; "
                "give company_id."
            )

    def _validate(
        self, kind: str, contact: Contact | None, data: dict[str, Any], problems: list[str]
    ) -> dict[str, Any]:
        try:
            if contact is None:
                loaded = ContactCreateSchema().load({**data, "kind": kind})
                loaded.pop("kind", None)
                return loaded
            if contact.kind == "company" and any(
                data.get(key) for key in ("company_id", "position")
            ):
                problems.append("company: only people belong to a company.")
                return data
            return ContactUpdateSchema().load(data)
        except ValidationError as error:
            for key, messages in _flatten(error.messages).items():
                problems.append(f"{key}: {' '.join(messages)}")
            return data

    def _check_duplicates(self, data: dict[str, Any], problems: list[str]) -> None:
        if self.allow_duplicate:
            return
        lines = sorted(
            {self.identifiers[key] for key in _identifiers(data) if key in self.identifiers}
        )
        existing = duplicates_of(
            self.session,
            data.get("emails") or [],
            data.get("phones") or [],
        )
        existing = [contact_id for contact_id in existing if contact_id not in self.created]
        if existing:
            problems.append(
                f"A contact with this e-mail or phone exists (id {existing[0]}); put its id in "
                "the id column to update it, or allow duplicates."
            )
        elif lines:
            problems.append(
                f"The e-mail or phone is on line {lines[0]} too; allow duplicates to import both."
            )

    def _remember_identifiers(self, row: Record, data: dict[str, Any]) -> None:
        for key in _identifiers(data):
            self.identifiers.setdefault(key, row.line)

    # --- writing ------------------------------------------------------------------------------

    def _write(self, plan: _Plan) -> None:
        session, actor = self.session, self.actor
        if plan.contact is None:
            contact = Contact(kind=plan.kind, **plan.data)
            _index(session, contact, new=True)
            self.created.add(contact.id)
            if plan.kind == "company":
                lines = self.new_companies[contact.name]
                lines[lines.index(plan.line)] = contact.id
            data = contact_data(contact)
            record_contact_history(
                session, contact, EventType.CONTACT_CREATED, actor, {"contact": data}
            )
            record_event(session, EventType.CONTACT_CREATED, data, actor=actor)
            return
        if not plan.diff:
            return
        contact = plan.contact
        for key in plan.diff:
            setattr(contact, key, plan.data[key])
        contact.updated_at = utcnow()
        _index(session, contact)
        changes = {"changes": plan.diff}
        record_contact_history(session, contact, EventType.CONTACT_UPDATED, actor, changes)
        record_event(
            session, EventType.CONTACT_UPDATED, {**contact_data(contact), **changes}, actor=actor
        )


def _identifiers(data: dict[str, Any]) -> set[tuple[str, str]]:
    return {("email", value) for value in _emails(data.get("emails") or [])} | {
        ("phone", value) for value in _phones(data.get("phones") or [])
    }


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages ({"emails": {0: [...]}}) as column → messages."""
    if isinstance(messages, list):
        return {prefix or "row": [str(message) for message in messages]}
    result: dict[str, list[str]] = {}
    for key, value in messages.items():
        column = prefix or ("row" if key == "_schema" else str(key))
        for name, texts in _flatten(value, column).items():
            result.setdefault(name, []).extend(texts)
    return result
