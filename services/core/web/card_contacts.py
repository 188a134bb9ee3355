"""The card page's contacts panel: the primary contact and the others, a search-as-you-type
picker, a new contact typed in place, "make primary" and removal.

Every change is an edit of the card (``update_card``) carrying the version the panel was shown
with, so a change made meanwhile by someone else is refused (412) and the panel comes back as
the card is now, with what the user typed kept. With htmx each answer is the panel itself and
says ``card-changed`` (the timeline reloads); without JavaScript each form posts and comes back
to the card page.
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import (
    CardcrmError,
    Conflict,
    Invalid,
    PreconditionFailed,
    ensure_version,
)
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cards import service
from ..cards.models import Card
from ..contacts import service as contacts
from ..contacts.models import Contact
from ..contacts.schemas import ContactCreateSchema
from .cards import CARD_CHANGED, CARD_PAGE_PARTS, card_context
from .form_messages import worded
from .forms import messages_of, optional_int, text
from .security import current_user, is_htmx

bp = Blueprint("card_contacts", __name__)

#: How many matches the picker offers.
PICKER_LIMIT = 8
STALE = _l(
    "Someone else changed this card meanwhile, so nothing was changed: its contacts are shown "
    "as they are now. Check, then try again."
)


@bp.get("/cards/<int:card_id>/contacts/search")
def search(card_id: int) -> Any:
    """The picker's matches for ``q`` (name, e-mail or phone; accents and case ignored)."""
    db = get_session()
    card = service.get_card(db, card_id, viewer=current_user())
    # ``contact_q``: the picker's own field (sent by htmx as the page's form names it).
    q = (request.args.get("contact_q") or request.args.get("q") or "").strip()[:200]
    return render_template("cards/_contact_options.html", card=card, **_matches(db, card, q))


@bp.post("/cards/<int:card_id>/contacts")
def link(card_id: int) -> Any:
    """Link an existing contact: the primary one if the card has none, else another."""

    def change(db: Session, card: Card) -> tuple[dict[str, Any], str]:
        contact = _contact(db, optional_int("contact_id", label="contact_id"))
        return _linked(card, contact.id), _("%(name)s is linked to the card.", name=contact.name)

    return _act(card_id, change)


@bp.post("/cards/<int:card_id>/contacts/new")
def create(card_id: int) -> Any:
    """Create a contact from the name, e-mail and phone typed, and link it.

    One sharing the e-mail or phone with an existing contact is not created: the panel offers
    to link that one instead (or, deliberately, to create another).
    """
    db, user = get_session(), current_user()
    typed = {key: text(key) for key in ("name", "email", "phone")}
    card = service.get_card(db, card_id, viewer=user)
    try:
        version = optional_int("version", label="version")
        # The card must still be as shown before a contact is made for it.
        ensure_version(card.version, {version} if version else None)
        body: dict[str, Any] = {
            "name": typed["name"],
            "emails": [typed["email"]] if typed["email"] else [],
            "phones": [typed["phone"]] if typed["phone"] else [],
        }
        data = ContactCreateSchema().load(body)
        allow = request.form.get("allow_duplicate") is not None
        contact = contacts.create_contact(db, user, data, allow)
    except Conflict as error:
        db.rollback()
        existing = db.get(Contact, error.extra.get("existing_id") or 0)
        return _refused(db, card_id, error, typed=typed, duplicate=existing)
    except (Invalid, ValidationError, PreconditionFailed) as error:
        db.rollback()
        return _refused(db, card_id, error, typed=typed)
    return _act(
        card_id,
        lambda db, card: (
            _linked(card, contact.id),
            _("%(name)s is created and linked.", name=contact.name),
        ),
        created=contact,
    )


@bp.post("/cards/<int:card_id>/contacts/<int:contact_id>/primary")
def make_primary(card_id: int, contact_id: int) -> Any:
    def change(db: Session, card: Card) -> tuple[dict[str, Any], str]:
        contact = _on_card(db, card, contact_id)
        others = [cid for cid in card.contact_ids if cid != contact_id]
        if card.contact_id is not None and card.contact_id != contact_id:
            others.append(card.contact_id)
        changes = {"contact_id": contact_id, "contact_ids": others}
        return changes, _("%(name)s is now the primary contact.", name=contact.name)

    return _act(card_id, change)


@bp.post("/cards/<int:card_id>/contacts/<int:contact_id>/remove")
def remove(card_id: int, contact_id: int) -> Any:
    def change(db: Session, card: Card) -> tuple[dict[str, Any], str]:
        contact = _on_card(db, card, contact_id)
        if card.contact_id == contact_id:
            changes: dict[str, Any] = {"contact_id": None}
        else:
            changes = {"contact_ids": [cid for cid in card.contact_ids if cid != contact_id]}
        return changes, _("%(name)s is no longer on the card.", name=contact.name)

    return _act(card_id, change)


# --- the panel's context (CARD_PAGE_PARTS) --------------------------------------------------------


def contacts_context(db: Session, card: Card) -> dict[str, Any]:
    ids = [cid for cid in [card.contact_id, *card.contact_ids] if cid is not None]
    found = {c.id: c for c in db.scalars(select(Contact).where(Contact.id.in_(ids)))} if ids else {}
    company_ids = {c.company_id for c in found.values() if c.company_id}
    companies = (
        {c.id: c for c in db.scalars(select(Contact).where(Contact.id.in_(company_ids)))}
        if company_ids
        else {}
    )
    q = request.args.get("contact_q", "").strip()[:200] if request.method == "GET" else ""
    context: dict[str, Any] = {
        "primary_contact": found.get(card.contact_id) if card.contact_id else None,
        "other_contacts": [found[cid] for cid in card.contact_ids if cid in found],
        "contact_companies": companies,
        "contact_typed": {},
        "contact_errors": {},
        "contact_duplicate": None,
        "contact_message": "",
        "contact_previous_version": None,
    }
    context.update(_matches(db, card, q) if q else {"contact_q": "", "contact_matches": []})
    return context


CARD_PAGE_PARTS.append(contacts_context)


# --- helpers -------------------------------------------------------------------------------------


def _matches(db: Session, card: Card, q: str) -> dict[str, Any]:
    on_card = {card.contact_id, *card.contact_ids}
    rows = contacts.search(db, q, None, None, PICKER_LIMIT + len(on_card)) if q else []
    return {
        "contact_q": q,
        "contact_matches": [row for row in rows if row.id not in on_card][:PICKER_LIMIT],
    }


def _contact(db: Session, contact_id: int | None) -> Contact:
    if contact_id is None:
        raise Invalid({"contact_id": [_("Choose a contact.")]})
    contact = db.get(Contact, contact_id)
    if contact is None:
        raise Invalid({"contact_id": [_("No contact %(id)s.", id=contact_id)]})
    return contact


def _on_card(db: Session, card: Card, contact_id: int) -> Contact:
    if contact_id != card.contact_id and contact_id not in card.contact_ids:
        raise Invalid({"contact_id": [_("This contact is not on the card.")]})
    return _contact(db, contact_id)


def _linked(card: Card, contact_id: int) -> dict[str, Any]:
    if contact_id == card.contact_id or contact_id in card.contact_ids:
        raise Invalid({"contact_id": [_("This contact is already on the card.")]})
    if card.contact_id is None:
        return {"contact_id": contact_id}
    return {"contact_ids": [*card.contact_ids, contact_id]}


def _act(card_id: int, change: Any, created: Contact | None = None) -> Any:
    """Apply ``change(db, card) -> (changes, message)`` with the version the form carried."""
    db, user = get_session(), current_user()
    card = service.get_card(db, card_id, viewer=user)
    previous = card.version
    try:
        version = optional_int("version", label="version")
        changes, message = change(db, card)
        service.update_card(db, user, card_id, changes, {version} if version else None)
    except (Invalid, ValidationError, PreconditionFailed) as error:
        db.rollback()
        extra: dict[str, Any] = {}
        if created is not None:
            # The contact exists now; linking it is one click away.
            extra["duplicate"] = created
        return _refused(db, card_id, error, **extra)
    if not is_htmx():
        flash(message)
        return redirect(url_for("web.cards.show", card_id=card_id) + "#contacts")
    card = service.get_card(db, card_id, viewer=user)
    context = contacts_context(db, card)
    context.update(contact_message=message, contact_previous_version=previous)
    return render_template("cards/_contacts.html", card=card, **context), 200, CARD_CHANGED


def _refused(
    db: Session,
    card_id: int,
    error: CardcrmError | ValidationError,
    *,
    typed: dict[str, str] | None = None,
    duplicate: Contact | None = None,
) -> Any:
    """The panel (or, without JavaScript, the page) as the card is now, with the reason and
    what was typed."""
    card = service.get_card(db, card_id, viewer=current_user())
    status = error.status if isinstance(error, CardcrmError) else 422
    errors = messages_of(error)
    if isinstance(error, PreconditionFailed):
        errors = {"_": [str(STALE)]}
    elif isinstance(error, Conflict):
        errors = {"_": [_("A contact with this e-mail or phone exists already.")]}
    elif not errors and isinstance(error, CardcrmError):
        errors = {"_": [error.detail]}
    errors = worded(errors, typed or {"name": "-"}, {"name": _("Give the contact a name.")})
    extra = {
        "contact_typed": typed or {},
        "contact_errors": errors,
        "contact_duplicate": duplicate,
    }
    if is_htmx():
        context = contacts_context(db, card)
        context.update(extra)
        return render_template("cards/_contacts.html", card=card, **context), status
    context = card_context(db, card)
    context.update(extra)
    return render_template("cards/show.html", **context), status
