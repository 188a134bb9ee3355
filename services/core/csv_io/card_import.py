"""Importing a product's cards from CSV: check the whole file, then write it in batches.

The check only reads (no write lock: other users keep writing while it runs). Every row is
checked by the cards' own rules, as ``create_card`` and ``update_card`` check them: values by
the product's fields (``FieldCleaner``, the rules of ``clean_values``), the statuses, owners
and contacts it names, ``check_in_sight`` and the plugins' ``check_status_change``. Rows come a
chunk at a time, with one lookup query per chunk, and what each good row will write goes to a
spool on disk, so memory stays flat whatever the file's size. A file with a bad row writes
nothing and answers with its bad rows; a dry run stops after the check. Otherwise
``card_writes`` writes the spool in short batches (its docstring says how).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cardcrm.common.errors import Forbidden, NotFound
from cardcrm.common.translate import gettext as _
from cardcrm.common.validation_messages import translate_message
from marshmallow import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..access import Scope, scope_of
from ..auth.models import User
from ..auth.service import normalize_email

# The cards' own rules, so an import checks exactly what create_card and update_card check.
from ..cards.changes import CardChange, check_in_sight, proposed_card, status_change_checker
from ..cards.fields import FieldCleaner
from ..cards.models import Card
from ..contacts.models import Contact
from ..errors import StatusChangeRefused
from ..products.models import Product, Status
from ..products.service import get_product
from .card_writes import CardUpdate, NewCard, Plan, write_cards
from .cards import FIELD_PREFIX, column_resolver, header, value_of
from .collector import fewer_collections
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
)
from .spool import PlanSpool

TITLE_MAX = 500


def import_cards(
    session: Session,
    actor: User | None,
    product_id: int,
    source: CsvFile,
    *,
    dry_run: bool = False,
    max_rows: int | None = None,
) -> ImportResult:
    """Create and update the product's cards from ``source``.

    Raises ``ImportRefused`` with the bad rows (nothing written), ``ImportTooLarge`` past
    ``max_rows`` rows, ``ImportInterrupted`` when a batch finds something changed meanwhile.
    A row with the ``id`` of one of the product's cards updates it; a row without one
    creates a card.
    """
    scope = scope_of(session, actor)
    if not scope.sees_product(product_id):
        raise NotFound(_("No product %(id)s.", id=product_id))
    with fewer_collections(), PlanSpool() as spool:
        try:
            check = _CardCheck(session, actor, product_id, scope)
            result = check.run(source, None if dry_run else spool, max_rows)
            statuses = {
                status.id: (status.name, status.group) for status in check.statuses.values()
            }
        finally:
            session.rollback()  # ends the check's read transaction
        if not dry_run:
            write_cards(session, actor, product_id, spool, scope, statuses)
    return result


@dataclass
class _Lookups:
    """What a chunk's rows name, fetched with one query each."""

    cards: dict[int, Card]
    contact_names: dict[int, str]
    contacts_named: dict[str, list[int]]


@dataclass
class _Planned:
    """A good row: what it does, and what the writer will write (None: nothing)."""

    outcome: str
    plan: Plan | None = None


class _CardCheck:
    """The check of a file, row by row."""

    def __init__(self, session: Session, actor: User | None, product_id: int, scope: Scope) -> None:
        self.session, self.actor, self.scope = session, actor, scope
        self.product: Product = get_product(session, product_id)
        self.definitions = list(self.product.fields)
        self.cleaner = FieldCleaner(self.definitions)
        #: each field's key, its column, its definition
        self.field_cells = [
            (definition["key"], FIELD_PREFIX + definition["key"], definition)
            for definition in self.definitions
        ]
        self.check_status_change = status_change_checker()
        self.product_id = self.product.id
        self.status_list = list(self.product.statuses)
        self.statuses = {fold_name(status.name): status for status in self.status_list}
        self.users: dict[str, int | None] = {}
        self.seen: dict[int, int] = {}
        #: field key → the column naming it, as the file writes it
        self.field_columns: dict[str, str] = {}

    def run(self, source: CsvFile, spool: PlanSpool | None, max_rows: int | None) -> ImportResult:
        rows = source.rows()
        first = next(rows, None)
        if first is None:
            raise ImportRefused([RowError(1, _("The file is empty; it needs a header line."))])
        columns = self._read_header(first[1])
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
                planned = self._plan(record, lookups)
                if isinstance(planned, RowError):
                    found.append(planned)
                    continue
                result.count(planned.outcome)
                if planned.plan is not None:
                    plans.append(planned.plan)
            bad += len(found)
            errors += found[: max(0, MAX_LISTED_ERRORS - len(errors))]
            if spool is not None and not bad:
                spool.add(plans)
        if bad:
            raise ImportRefused(errors, bad)
        return result

    # --- the header ---------------------------------------------------------------------------

    def _read_header(self, cells: list[str]) -> list[str | None]:
        resolve = column_resolver(self.product)

        def remember(name: str) -> str | None:
            column = resolve(name)
            if column and column.startswith(FIELD_PREFIX):
                self.field_columns[column.removeprefix(FIELD_PREFIX)] = name.strip()
            return column

        columns, problems = read_header(cells, remember, header(self.product))
        if not problems and not {"id", "title"} & set(columns):
            problems.append(
                "The file needs a title column to create cards, or an id column to update them."
            )
        if problems:
            raise ImportRefused([RowError(1, " ".join(problems))])
        return columns

    # --- checking a row -----------------------------------------------------------------------

    def _lookups(self, rows: list[Record]) -> _Lookups:
        session = self.session
        cells = [row.cells for row in rows]
        ids = {int(raw) for raw in _column_texts(cells, "id") if ID.match(raw)}
        cards: dict[int, Card] = {}
        if ids:
            query = select(Card).where(Card.id.in_(ids))
            cards = {card.id: card for card in session.scalars(query)}
        # Each distinct cell once: a file names the same few owners over and over.
        emails = {normalize_email(raw) for raw in _column_texts(cells, "owner")}
        emails -= set(self.users)
        if emails:
            found = dict(
                session.execute(select(User.email, User.id).where(User.email.in_(emails))).all()
            )
            self.users.update({email: found.get(email) for email in emails})
        contact_ids = {int(raw) for raw in _column_texts(cells, "contact_id") if ID.match(raw)}
        contact_ids |= {card.contact_id for card in cards.values() if card.contact_id}
        names = set(_column_texts(cells, "contact"))
        contact_names: dict[int, str] = {}
        contacts_named: dict[str, list[int]] = {}
        if contact_ids or names:
            for contact_id, name in session.execute(
                select(Contact.id, Contact.name)
                .where(or_(Contact.id.in_(contact_ids), Contact.name.in_(names)))
                .order_by(Contact.id)
            ):
                contact_names[contact_id] = name
                contacts_named.setdefault(name, []).append(contact_id)
        return _Lookups(cards, contact_names, contacts_named)

    def _plan(self, row: Record, lookups: _Lookups) -> _Planned | RowError:
        problems: list[str] = []
        card = self._existing(row, lookups, problems)
        if problems:
            return RowError(row.line, " ".join(problems))
        title = self._title(row, card, problems)
        status = self._status(row, card, problems)
        owner_id = self._owner(row, card, problems)
        contact_id = self._contact(row, card, lookups, problems)
        values = self._fields(row, card, problems)
        if problems or status is None:  # no status is always one of the problems
            return RowError(row.line, " ".join(problems))
        if card is None:
            new = proposed_card(
                self.product,
                status,
                title=title,
                owner_id=owner_id,
                contact_id=contact_id,
                fields=values,
            )
            self._check_rules(new, None, status, problems)
            if problems:
                return RowError(row.line, " ".join(problems))
            new_card = NewCard(row.line, status.id, title, owner_id, contact_id, values)
            return _Planned("created", new_card)
        row_values = {
            "title": title,
            "status": status,
            "owner_id": owner_id,
            "contact_id": contact_id,
            "fields": values,
        }
        change = CardChange.of(card, row_values)
        if not change.changes_anything:
            return _Planned("unchanged")
        check_version(row, "card", card, problems)
        # The card as it would be, for the rules (the stored one stays untouched).
        proposal = proposed_card(
            self.product,
            card.status,
            id=card.id,
            title=title,
            owner_id=owner_id,
            contact_id=contact_id,
            fields=values,
            version=card.version,
        )
        moved_to = status if change.moves else None
        owner_changed = "owner_id" in change.diff
        self._check_rules(proposal, card.status, moved_to, problems, owner_changed)
        if problems:
            return RowError(row.line, " ".join(problems))
        plan = CardUpdate(
            line=row.line,
            card_id=card.id,
            version=card.version,
            owner_before=card.owner_id,
            contact_before=card.contact_id,
            old_status_id=card.status_id,
            created_at=card.created_at,
            title=title,
            status_id=status.id,
            owner_id=owner_id,
            contact_id=contact_id,
            fields=values,
            diff=change.diff,
        )
        return _Planned("updated", plan)

    def _existing(self, row: Record, lookups: _Lookups, problems: list[str]) -> Card | None:
        card_id = claim_id(row, "card", self.seen, problems)
        if card_id is None:
            return None
        card = lookups.cards.get(card_id)
        if card is None or card.product_id != self.product.id or not self.scope.sees_card(card):
            problems.append(
                f"id: no card {card_id} in this product (leave id empty to create a card)."
            )
        elif card.trashed:
            problems.append(_("id: card %(id)s is in the trash; restore it first.", id=card_id))
        return card

    def _title(self, row: Record, card: Card | None, problems: list[str]) -> str:
        if not row.has("title"):
            if card is None:
                problems.append(
                    _("title: a new card needs a title (the file has no title column).")
                )
                return ""
            return card.title
        title = row.raw("title")
        if not title.strip():
            problems.append(_("title: a card needs a title."))
        elif len(title) > TITLE_MAX:
            problems.append(_("title: at most %(max)s characters.", max=TITLE_MAX))
        return title

    def _status(self, row: Record, card: Card | None, problems: list[str]) -> Status | None:
        name = row.get("status")
        if name:
            status = self.statuses.get(fold_name(name))
            if status is None:
                known = ", ".join(each.name for each in self.status_list)
                problems.append(
                    _(
                        "status: no status %(name)s in this product (%(known)s).",
                        name=repr(name),
                        known=known,
                    )
                )
            return status
        if card is not None:
            return card.status
        if not self.status_list:
            problems.append(_("status: the product has no status yet."))
            return None
        return self.status_list[0]

    def _owner(self, row: Record, card: Card | None, problems: list[str]) -> int | None:
        if not row.has("owner"):
            return card.owner_id if card else None
        email = row.get("owner")
        if not email:
            return None
        owner_id = self.users.get(email) or self.users.get(normalize_email(email))
        if owner_id is None:
            problems.append(_("owner: no user with the e-mail %(email)s.", email=repr(email)))
        return owner_id

    def _contact(
        self, row: Record, card: Card | None, lookups: _Lookups, problems: list[str]
    ) -> int | None:
        if not (row.has("contact") or row.has("contact_id")):
            return card.contact_id if card else None
        raw, name = row.get("contact_id"), row.get("contact")
        if raw:
            contact_id = int(raw) if ID.match(raw) else None
            if contact_id not in lookups.contact_names:
                problems.append(_("contact_id: no contact %(id)s.", id=raw))
            elif name and fold_name(name) != fold_name(lookups.contact_names[contact_id]):
                problems.append(
                    f"contact: {name!r} is not the name of contact {contact_id} "
                    f"({lookups.contact_names[contact_id]!r}); empty contact_id to choose "
                    "the contact by its name."
                )
            return contact_id
        if not name:
            return None
        if card is not None and card.contact_id is not None:
            current = lookups.contact_names.get(card.contact_id)
            if current is not None and fold_name(current) == fold_name(name):
                return card.contact_id
        found = lookups.contacts_named.get(name, [])
        if len(found) != 1:
            problems.append(
                f"contact: no contact is named {name!r}; import contacts first, or give contact_id."
                if not found
                else f"contact: {len(found)} contacts are named {name!r}; give contact_id."
            )
            return None
        return found[0]

    def _fields(self, row: Record, card: Card | None, problems: list[str]) -> dict[str, Any]:
        incoming: dict[str, Any] = {}
        cells = row.cells
        for key, column, definition in self.field_cells:
            text = cells.get(column)
            if text is not None:
                try:
                    incoming[key] = value_of(definition, text)
                except ValueError as error:
                    problems.append(f"{self._column(key)}: {error}")
        if card is not None and not incoming:
            return card.fields
        try:
            if card is None:
                present = {key: value for key, value in incoming.items() if value is not None}
                return self.cleaner.clean(present)
            return self.cleaner.merge(card.fields, incoming)
        except ValidationError as error:
            messages = error.messages if isinstance(error.messages, dict) else {"": error.messages}
            for key, texts in messages.items():
                column = self._column(str(key).removeprefix("fields."))
                problems.append(f"{column}: {' '.join(map(translate_message, texts))}")
            return {}

    def _column(self, key: str) -> str:
        return self.field_columns.get(key, FIELD_PREFIX + key)

    def _check_rules(
        self,
        card: Card,
        old: Status | None,
        new: Status | None,
        problems: list[str],
        owner_changed: bool = True,
    ) -> None:
        """The rules create_card and update_card apply: a member limited to own cards keeps
        the card in sight, and plugins may refuse a status (for a new card, its first)."""
        # check_in_sight refuses only members limited to their own cards: skipped for the
        # others, for whom it costs a scope lookup per row and never refuses.
        if owner_changed and self.product_id in self.scope.own_cards_products:
            try:
                check_in_sight(self.session, self.actor, card)
            except Forbidden as refusal:
                problems.append(f"owner: {refusal.detail}")
        if new is not None:
            try:
                self.check_status_change(card, old, new, self.actor)
            except StatusChangeRefused as refusal:
                problems.append(f"status: {refusal.detail}")


def _column_texts(cells: list[dict[str, str]], column: str) -> set[str]:
    """The distinct texts of a column's cells, without surrounding blanks (empty ones left
    out; none at all when the file has no such column)."""
    if not cells or column not in cells[0]:
        return set()
    texts = {row[column].strip() for row in cells}
    texts.discard("")
    return texts
