"""Contacts: search and list, a new contact (duplicates warned), a contact's page (edit with
its version, its cards by product, merge another contact into it, delete it, history).

Merging and deleting are offered only to those the service lets do it (admins and the
contact's creator, ``contacts/service.py``); the service checks again on every post.
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import CardcrmError, Conflict, Invalid, PreconditionFailed
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from ..access import scope_of
from ..contacts import service
from ..contacts.models import KINDS, Contact
from ..contacts.schemas import ContactCreateSchema, ContactUpdateSchema
from ..products.models import Product
from .form_messages import worded
from .forms import messages_of, optional_int, text
from .lookups import all_users, user_names
from .security import current_user

bp = Blueprint("contacts", __name__)

LIST_LIMIT = 100
HISTORY_SHOWN = 200
#: Free-text inputs of the forms (lists are one value per line).
TEXTS = ("name", "position", "registration_number", "address", "website", "notes")
LISTS = ("emails", "phones")


@bp.get("/contacts")
def index() -> Any:
    return render_template("contacts/index.html", **list_context(get_session()))


@bp.post("/contacts")
def create() -> Any:
    db = get_session()
    typed = typed_contact()
    typed["kind"] = text("kind") or "person"
    allow_duplicate = request.form.get("allow_duplicate") is not None
    try:
        data = ContactCreateSchema().load(payload(typed, creating=True))
        contact = service.create_contact(db, current_user(), data, allow_duplicate)
    except Conflict as error:
        existing = db.get(Contact, error.extra.get("existing_id") or 0)
        context = list_context(db, typed=typed, duplicate=existing)
        return render_template("contacts/index.html", **context), 409
    except (Invalid, ValidationError) as error:
        context = list_context(db, typed=typed, errors=errors_of(error, typed))
        return render_template("contacts/index.html", **context), 422
    flash(_("The contact %(name)s is created.", name=contact.name))
    return redirect(url_for("web.contacts.show", contact_id=contact.id))


@bp.get("/contacts/<int:contact_id>")
def show(contact_id: int) -> Any:
    db = get_session()
    contact = service.get_contact(db, contact_id)
    return render_template("contacts/show.html", **contact_context(db, contact))


@bp.post("/contacts/<int:contact_id>")
def update(contact_id: int) -> Any:
    db = get_session()
    contact = service.get_contact(db, contact_id)
    typed = typed_contact()
    try:
        version = optional_int("version", label="version")
        changes = ContactUpdateSchema().load(payload(typed, creating=False, kind=contact.kind))
        service.update_contact(
            db, current_user(), contact_id, changes, {version} if version else None
        )
    except PreconditionFailed:
        db.rollback()
        contact = service.get_contact(db, contact_id)
        context = contact_context(db, contact, typed=typed, stale=True)
        return render_template("contacts/show.html", **context), 412
    except (Invalid, ValidationError) as error:
        db.rollback()
        contact = service.get_contact(db, contact_id)
        context = contact_context(db, contact, typed=typed, errors=errors_of(error, typed))
        return render_template("contacts/show.html", **context), 422
    flash(_("The contact is saved."))
    return redirect(url_for("web.contacts.show", contact_id=contact_id))


@bp.post("/contacts/<int:contact_id>/merge")
def merge(contact_id: int) -> Any:
    db = get_session()
    service.get_contact(db, contact_id)
    try:
        other_id = optional_int("other_id", label="other_id")
        if other_id is None:
            raise Invalid({"other_id": [_("Give the id of the contact to merge into this one.")]})
        other = db.get(Contact, other_id)
        if other is None:
            raise Invalid({"other_id": [_("No contact %(id)s.", id=other_id)]})
        name = other.name
        service.merge_contacts(db, current_user(), contact_id, other_id)
    except (Invalid, Conflict) as error:
        db.rollback()
        contact = service.get_contact(db, contact_id)
        context = contact_context(db, contact, merge_errors=errors_of(error))
        return render_template("contacts/show.html", **context), error.status
    flash(_("%(name)s is merged into this contact, with their cards and history.", name=name))
    return redirect(url_for("web.contacts.show", contact_id=contact_id))


@bp.post("/contacts/<int:contact_id>/delete")
def delete(contact_id: int) -> Any:
    """Delete the contact, unlinking it from its cards (the page said so before the click)."""
    db = get_session()
    name = service.get_contact(db, contact_id).name
    try:
        version = optional_int("version", label="version")
        expected = {version} if version else None
        service.delete_contact(db, current_user(), contact_id, True, expected)
    except (Conflict, PreconditionFailed) as error:
        db.rollback()
        contact = service.get_contact(db, contact_id)
        context = contact_context(db, contact, delete_errors=errors_of(error))
        return render_template("contacts/show.html", **context), error.status
    flash(_("The contact %(name)s is deleted.", name=name))
    return redirect(url_for("web.contacts.index"))


# --- helpers -------------------------------------------------------------------------------------


def typed_contact() -> dict[str, str]:
    return {key: text(key) for key in (*TEXTS, *LISTS)}


def payload(typed: dict[str, str], *, creating: bool, kind: str = "person") -> dict[str, Any]:
    """What was typed as the API's body: one e-mail or phone per line; empty texts clear."""
    data: dict[str, Any] = {"name": typed["name"]}
    if creating:
        data["kind"] = typed.get("kind", "person")
        kind = data["kind"]
    for key in LISTS:
        data[key] = [line.strip() for line in typed[key].replace(",", "\n").splitlines()]
        data[key] = [value for value in data[key] if value]
    for key in TEXTS[1:]:
        if key == "position" and kind == "company":
            continue
        value = typed.get(key) or None
        if creating and value is None:
            continue
        data[key] = value
    return data


def errors_of(error: Exception, typed: dict[str, Any] | None = None) -> dict[str, list[str]]:
    errors = messages_of(error)
    if not errors and isinstance(error, CardcrmError):
        errors = {"_": [error.detail]}
    if typed is not None:
        errors = worded(errors, typed, {"name": _("Give the contact a name.")})
    return errors


def form_of(contact: Contact) -> dict[str, str]:
    values = {key: getattr(contact, key) or "" for key in TEXTS}
    values.update({key: "\n".join(getattr(contact, key) or []) for key in LISTS})
    return values


def list_context(db: Session, **extra: Any) -> dict[str, Any]:
    q = request.args.get("q", "").strip()[:200]
    kind = request.args.get("kind", "")
    kind = kind if kind in KINDS else ""
    rows = service.search(db, q or None, kind or None, None, LIST_LIMIT + 1)
    context = {
        "contacts": rows[:LIST_LIMIT],
        "more": len(rows) > LIST_LIMIT,
        "q": q,
        "kind": kind,
        "kinds": KINDS,
        "typed": {},
        "errors": {},
        "duplicate": None,
    }
    context.update(extra)
    return context


def contact_context(
    db: Session,
    contact: Contact,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    merge_errors: dict[str, list[str]] | None = None,
    delete_errors: dict[str, list[str]] | None = None,
    stale: bool = False,
) -> dict[str, Any]:
    user = current_user()
    scope = scope_of(db, user)
    visible = scope.cards_condition()
    cards = service.cards_of(db, contact.id, visible)
    products = {
        p.id: p for p in db.query(Product).filter(Product.id.in_({c.product_id for c in cards}))
    }
    groups: dict[int, dict[str, Any]] = {}
    for card in cards:
        groups.setdefault(card.product_id, {"product": products[card.product_id], "cards": []})
        groups[card.product_id]["cards"].append(card)
    users = all_users(db)
    names = user_names(users)
    rows = service.history(db, contact.id, None, 10_000)[::-1][:HISTORY_SHOWN]
    merge_q = request.args.get("merge_q", "").strip()[:200]
    may_remove = service.may_remove(db, user, contact)
    candidates = []
    if merge_q and may_remove:
        candidates = [
            row
            for row in service.search(db, merge_q, contact.kind, None, 21)
            if row.id != contact.id and service.may_remove(db, user, row)
        ][:20]
    company = db.get(Contact, contact.company_id) if contact.company_id else None
    return {
        "contact": contact,
        "company": company,
        "form": typed or form_of(contact),
        "current": form_of(contact),
        "stale": stale,
        "errors": errors or {},
        "merge_errors": merge_errors or {},
        "delete_errors": delete_errors or {},
        # Merging and deleting: offered to admins and the contact's creator; deleting a contact
        # on cards out of the user's sight is left to an admin (the service refuses it).
        "may_merge": may_remove,
        "may_delete": may_remove and not service.linked_to_cards_out_of_sight(db, user, contact.id),
        "groups": list(groups.values()),
        "sees_every_card": scope.everything,
        "history": [
            {"at": row.at, "who": names.get(row.user_id, _("The system")), "type": row.type}
            for row in rows
        ],
        "merge_q": merge_q,
        "candidates": candidates,
        "known_errors": [*TEXTS, *LISTS],
    }


@bp.app_template_global("contacts_named")
def contacts_named(ids: list[int | None]) -> list[Contact]:
    """Contacts by id, in that order (a card page shows its primary and other contacts)."""
    wanted = [contact_id for contact_id in ids if contact_id is not None]
    if not wanted:
        return []
    found = {c.id: c for c in get_session().query(Contact).filter(Contact.id.in_(wanted))}
    return [found[contact_id] for contact_id in wanted if contact_id in found]
