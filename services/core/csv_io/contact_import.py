"""Importing contacts from CSV: check the whole file, then write it in batches.

As for cards (``card_import``): the check only reads, keeps each good row's plan on disk, and
a file with a bad row writes nothing; ``contact_writes`` then writes the plans in batches. A
row with an ``id`` updates that contact; a row without one creates a contact, unless it shares
an e-mail or phone with an existing contact or an earlier line (a bad row, unless duplicates
are allowed). A person's company is named by ``company_id`` or by ``company``: the exact name
of an existing company or of one created by an earlier line of the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cardcrm.common.translate import gettext as _
from cardcrm.common.validation_messages import translate_message
from marshmallow import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..contacts.models import KINDS, Contact
from ..contacts.schemas import ContactCreateSchema, ContactUpdateSchema

# The contact rules' own helpers: the same search text, identifiers and duplicate keys.
from ..contacts.service import EDITABLE, contacts_with, identifiers_of, search_text_of
from .collector import fewer_collections
from .contact_writes import ContactUpdate, NewContact, Plan, write_contacts
from .contacts import COLUMNS
from .errors import MAX_LISTED_ERRORS, ImportRefused, RowError
from .parsing import (
    ID,
    CsvFile,
    ImportResult,
    Record,
    check_version,
    chunked,
    claim_id,
    fold_name,
    read_header,
    records,
    split_list,
)
from .spool import PlanSpool

TEXT_COLUMNS = ("position", "registration_number", "address", "website", "notes")
#: A new contact's values for the columns a file leaves out (as ``Contact``'s defaults).
DEFAULTS: dict[str, Any] = {key: None for key in EDITABLE} | {
    "emails": [],
    "phones": [],
    "fields": {},
}


def import_contacts(
    session: Session,
    actor: User | None,
    source: CsvFile,
    *,
    dry_run: bool = False,
    allow_duplicate: bool = False,
    max_rows: int | None = None,
) -> ImportResult:
    """Create and update contacts from ``source`` (errors as ``import_cards``)."""
    with fewer_collections(), PlanSpool() as spool:
        try:
            check = _ContactCheck(session, allow_duplicate)
            result = check.run(source, None if dry_run else spool, max_rows)
        finally:
            session.rollback()  # ends the check's read transaction
        if not dry_run:
            write_contacts(session, actor, spool, allow_duplicate)
    return result


@dataclass
class _Lookups:
    contacts: dict[int, Contact]
    #: company id → name, and exact name → ids of the companies so named
    companies: dict[int, str]
    companies_named: dict[str, list[int]]
    #: the existing contacts holding each e-mail or phone of the chunk's new rows
    identifiers: dict[tuple[str, str], set[int]]


class _ContactCheck:
    """The check of a file, row by row."""

    def __init__(self, session: Session, allow_duplicate: bool) -> None:
        self.session = session
        self.allow_duplicate = allow_duplicate
        self.seen: dict[int, int] = {}
        #: identifiers (e-mails, phones) of the file's lines so far, by their hash → line
        self.identifiers: dict[int, int] = {}
        #: companies the file creates: exact name → lines
        self.new_companies: dict[str, list[int]] = {}
        # One schema of each for every row (the API's rules; a schema is costly to make).
        self.create_schema, self.update_schema = ContactCreateSchema(), ContactUpdateSchema()

    def run(self, source: CsvFile, spool: PlanSpool | None, max_rows: int | None) -> ImportResult:
        rows = source.rows()
        first = next(rows, None)
        if first is None:
            raise ImportRefused([RowError(1, _("The file is empty; it needs a header line."))])
        columns, problems = read_header(
            first[1], lambda name: fold_name(name) if fold_name(name) in COLUMNS else None, COLUMNS
        )
        if not problems and not {"id", "name"} & set(columns):
            problems.append(
                "The file needs a name column to create contacts, or an id column to update them."
            )
        if problems:
            raise ImportRefused([RowError(1, " ".join(problems))])
        names = [cell.strip() for cell in first[1]]
        result = ImportResult(dry_run=spool is None)
        errors: list[RowError] = []
        bad = 0
        for chunk in chunked(records(rows, columns, names, max_rows)):
            good = [item for item in chunk if isinstance(item, Record)]
            found = [item for item in chunk if isinstance(item, RowError)]
            lookups = self._lookups(good)
            plans = []
            for record in good:
                # Row by row: a person may name a company created by the line before.
                planned = self._plan(record, lookups)
                if isinstance(planned, RowError):
                    found.append(planned)
                    continue
                outcome, plan = planned
                result.count(outcome)
                if plan is not None:
                    plans.append(plan)
            bad += len(found)
            errors += sorted(found, key=lambda error: error.line)[
                : max(0, MAX_LISTED_ERRORS - len(errors))
            ]
            if spool is not None and not bad:
                spool.add(plans)
        if bad:
            raise ImportRefused(errors, bad)
        return result

    def _lookups(self, rows: list[Record]) -> _Lookups:
        session = self.session
        ids = {int(row.get("id")) for row in rows if ID.match(row.get("id"))}
        contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))}
        company_ids = {
            int(row.get("company_id")) for row in rows if ID.match(row.get("company_id"))
        }
        company_ids |= {contact.company_id for contact in contacts.values() if contact.company_id}
        names = {row.get("company") for row in rows if row.get("company")}
        companies: dict[int, str] = {}
        named: dict[str, list[int]] = {}
        if company_ids or names:
            for company_id, name in session.execute(
                select(Contact.id, Contact.name)
                .where(
                    Contact.kind == "company",
                    or_(Contact.id.in_(company_ids), Contact.name.in_(names)),
                )
                .order_by(Contact.id)
            ):
                companies[company_id] = name
                named.setdefault(name, []).append(company_id)
        keys: set[tuple[str, str]] = set()
        if not self.allow_duplicate:
            for row in rows:
                if not ID.match(row.get("id")):
                    keys |= identifiers_of(split_list(row.get("emails")), _phones_of(row))
        return _Lookups(contacts, companies, named, contacts_with(session, keys))

    # --- checking a row -----------------------------------------------------------------------

    def _plan(self, row: Record, lookups: _Lookups) -> tuple[str, Plan | None] | RowError:
        problems: list[str] = []
        contact = self._existing(row, lookups, problems)
        if problems:
            return RowError(row.line, " ".join(problems))
        kind = row.get("kind").casefold() or (contact.kind if contact else "person")
        if kind not in KINDS:
            problems.append(
                _("kind: %(kind)s is neither person nor company.", kind=repr(row.get("kind")))
            )
        elif contact is not None and kind != contact.kind:
            problems.append(
                _(
                    "kind: contact %(id)s is a %(kind)s; it cannot change.",
                    id=contact.id,
                    kind=contact.kind,
                )
            )
        if contact is None and kind == "company" and row.get("name"):
            self.new_companies.setdefault(row.get("name"), []).append(row.line)
        data = self._values(row, problems)
        company_line = self._company(row, contact, lookups, data, problems)
        if company_line is not None and kind == "company":
            problems.append(_("company: only people belong to a company."))
        if not problems:
            data = self._validate(kind, contact, data, problems)
        identifiers = identifiers_of(data.get("emails"), data.get("phones"))
        if contact is None:
            self._check_duplicates(identifiers, lookups, problems)
        for key in identifiers:
            self.identifiers.setdefault(hash(key), row.line)
        if problems:
            return RowError(row.line, " ".join(problems))
        if contact is None:
            values = {key: data.get(key, DEFAULTS[key]) for key in EDITABLE}
            text = search_text_of(values["name"], values["emails"], values["phones"])
            return "created", NewContact(
                row.line, kind, values, company_line, text, tuple(sorted(identifiers))
            )
        # A company the file creates is a change whatever the contact had (its id comes later).
        diff = {
            key: {"before": getattr(contact, key), "after": data[key]}
            for key in EDITABLE
            if key in data
            and (getattr(contact, key) != data[key] or (key == "company_id" and company_line))
        }
        if not diff:
            return "unchanged", None
        check_version(row, "contact", contact, problems)
        if problems:
            return RowError(row.line, " ".join(problems))
        values = {key: data.get(key, getattr(contact, key)) for key in EDITABLE}
        text = search_text_of(values["name"], values["emails"], values["phones"])
        plan = ContactUpdate(
            line=row.line,
            contact_id=contact.id,
            version=contact.version,
            company_before=contact.company_id,
            kind=contact.kind,
            created_at=contact.created_at,
            values=values,
            diff=diff,
            company_line=company_line,
            search_text=text,
            identifiers=tuple(sorted(identifiers_of(values["emails"], values["phones"]))),
        )
        return "updated", plan

    def _existing(self, row: Record, lookups: _Lookups, problems: list[str]) -> Contact | None:
        contact_id = claim_id(row, "contact", self.seen, problems)
        if contact_id is None:
            return None
        contact = lookups.contacts.get(contact_id)
        if contact is None:
            problems.append(
                _("id: no contact %(id)s (leave id empty to create a contact).", id=contact_id)
            )
        return contact

    def _values(self, row: Record, problems: list[str]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if row.has("name"):
            data["name"] = row.get("name")
            if not data["name"]:
                problems.append(_("name: a contact needs a name."))
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
    ) -> int | None:
        """Set ``data["company_id"]`` from the row's company_id or company (name) cell; the
        line of the company when an earlier line of the file creates it."""
        if not (row.has("company") or row.has("company_id")):
            return None
        raw, name = row.get("company_id"), row.get("company")
        data["company_id"] = None
        if raw:
            company_id = int(raw) if ID.match(raw) else None
            if company_id not in lookups.companies:
                problems.append(_("company_id: no company %(id)s.", id=raw))
            elif name and fold_name(name) != fold_name(lookups.companies[company_id]):
                problems.append(
                    f"company: {name!r} is not the name of company {company_id} "
                    f"({lookups.companies[company_id]!r}); empty company_id to choose the "
                    "company by its name."
                )
            else:
                data["company_id"] = company_id
            return None
        if not name:
            return None
        if contact is not None and contact.company_id is not None:
            current = lookups.companies.get(contact.company_id)
            if current is not None and fold_name(current) == fold_name(name):
                data["company_id"] = contact.company_id
                return None
        found = lookups.companies_named.get(name, [])
        in_file = self.new_companies.get(name, [])
        if len(found) + len(in_file) == 1:
            if found:
                data["company_id"] = found[0]
                return None
            return in_file[0]  # written before this row: the writer knows its id then
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
        return None

    def _validate(
        self, kind: str, contact: Contact | None, data: dict[str, Any], problems: list[str]
    ) -> dict[str, Any]:
        try:
            if contact is None:
                loaded = self.create_schema.load({**data, "kind": kind})
                loaded.pop("kind", None)
                return loaded
            if contact.kind == "company" and any(
                data.get(key) for key in ("company_id", "position")
            ):
                problems.append(_("company: only people belong to a company."))
                return data
            return self.update_schema.load(data)
        except ValidationError as error:
            for key, messages in _flatten(error.messages).items():
                problems.append(f"{key}: {' '.join(map(translate_message, messages))}")
            return data

    def _check_duplicates(
        self, identifiers: set[tuple[str, str]], lookups: _Lookups, problems: list[str]
    ) -> None:
        if self.allow_duplicate:
            return
        existing = sorted({cid for key in identifiers for cid in lookups.identifiers.get(key, ())})
        lines = sorted(
            {self.identifiers[hash(key)] for key in identifiers if hash(key) in self.identifiers}
        )
        if existing:
            problems.append(
                f"A contact with this e-mail or phone exists (id {existing[0]}); put its id in "
                "the id column to update it, or allow duplicates."
            )
        elif lines:
            problems.append(
                f"The e-mail or phone is on line {lines[0]} too; allow duplicates to import both."
            )


def _phones_of(row: Record) -> list[str]:
    return split_list(row.get("phones"))


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
