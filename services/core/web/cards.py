"""A card's page (/cards/<id>, where the calendar feed links): edit, tasks and the panels.

The edit form carries the card's version; a save against an older version is refused by
``update_card`` and the page comes back with what the user typed, the other person's values
beside it, and the new version, so that saving again is a deliberate choice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import CardcrmError, Invalid, PreconditionFailed
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from ..cards import service
from ..cards.models import Card
from ..cards.schemas import CardCreateSchema, CardUpdateSchema
from ..products.service import get_product
from ..products.task_types import product_task_types
from ..quick_access.service import note_card_opened
from ..tasks.schemas import TaskCreateSchema
from ..tasks.service import create_task, list_tasks
from .display import user_zone
from .form_messages import (
    NO_TASK_DATE,
    card_messages,
    check_card_form,
    check_task_form,
    task_messages,
)
from .forms import (
    deadline_payload,
    field_changes,
    field_form_values,
    messages_of,
    optional_date,
    optional_int,
    optional_time,
    text,
    typed_field_values,
)
from .lookups import all_users, user_names
from .products import product_page
from .security import current_user, is_htmx
from .trash import trashed_message

bp = Blueprint("cards", __name__)

TASK_LIMIT = 500
REPEATS = ("daily", "weekly", "monthly", "yearly")

#: The card page's panels (notes, files, e-mail, timeline...) each add what their template
#: (``cards/_<panel>.html``) needs: ``part(session, card) -> {name: value}``. A panel's web
#: module appends its function here when it is imported.
CARD_PAGE_PARTS: list[Callable[[Session, Card], dict[str, Any]]] = []
#: An htmx answer's header saying the card changed: the page's panels (the timeline) reload.
CARD_CHANGED = {"HX-Trigger": "card-changed"}


@bp.get("/cards/<int:card_id>")
def show(card_id: int) -> Any:
    db = get_session()
    card = service.get_card(db, card_id, viewer=current_user())
    if not request.headers.get("Sec-Purpose", "").startswith("prefetch"):
        # The offline app fetches cards ahead (static/sw.js): the user did not open them.
        note_card_opened(db, current_user(), card)
    return render_template("cards/show.html", **card_context(db, card))


@bp.post("/cards/<int:card_id>")
def update(card_id: int) -> Any:
    db, user = get_session(), current_user()
    card = service.get_card(db, card_id, viewer=current_user())
    definitions = card.product.fields
    typed: dict[str, Any] = {
        "title": text("title"),
        "status_id": text("status_id"),
        "owner_id": text("owner_id"),
        "fields": typed_field_values(definitions, request.form),
    }
    version = optional_int("version")
    try:
        changes: dict[str, Any] = {
            "title": typed["title"],
            "status_id": optional_int("status_id", label="status_id") or card.status_id,
            "owner_id": optional_int("owner_id", label="owner_id"),
            "fields": field_changes(definitions, typed["fields"], user_zone()),
        }
        # Values of fields the product no longer defines are not in the form: saving drops them.
        defined = {field["key"] for field in definitions}
        changes["fields"].update(dict.fromkeys(set(card.fields) - defined))
        CardUpdateSchema().load(changes)
        service.update_card(db, user, card_id, changes, {version} if version else None)
    except PreconditionFailed:
        card = service.get_card(db, card_id, viewer=current_user())
        context = card_context(db, card, typed=typed, stale=True)
        return render_template("cards/show.html", **context), 412
    except (Invalid, ValidationError) as error:
        card = service.get_card(db, card_id, viewer=current_user())
        errors = card_messages(messages_of(error), typed["title"], definitions)
        context = card_context(db, card, typed=typed, errors=errors)
        if isinstance(error, CardcrmError) and not context["errors"]:
            context["errors"] = {"_": [error.detail]}
        return render_template("cards/show.html", **context), 422
    flash(_("The card is saved."))
    return redirect(url_for("web.cards.show", card_id=card_id))


@bp.post("/products/<int:product_id>/cards")
def create(product_id: int) -> Any:
    db, user = get_session(), current_user()
    # The form asks for the required custom fields only; the rest are filled on the card's page.
    required = [
        field for field in get_product(db, product_id, viewer=user).fields if field.get("required")
    ]
    typed: dict[str, Any] = {
        "title": text("title"),
        "status_id": text("status_id"),
        "owner_id": text("owner_id"),
        "fields": typed_field_values(required, request.form),
    }
    try:
        check_card_form(typed["title"], required, typed["fields"])
        data = {"title": typed["title"], "owner_id": optional_int("owner_id") or user.id}
        status_id = optional_int("status_id", label="status_id")
        if status_id is not None:
            data["status_id"] = status_id
        values = field_changes(required, typed["fields"], user_zone())
        data["fields"] = {key: value for key, value in values.items() if value is not None}
        card = service.create_card(db, user, product_id, CardCreateSchema().load(data))
    except (Invalid, ValidationError) as error:
        errors = card_messages(messages_of(error), typed["title"], required)
        if isinstance(error, CardcrmError) and not errors:
            errors = {"_": [error.detail]}
        return product_page(product_id, new_card=typed, new_card_errors=errors)
    flash(_("The card is created. Add a task so that it shows up in someone's Today view."))
    return redirect(url_for("web.cards.show", card_id=card.id))


@bp.post("/cards/<int:card_id>/trash")
def trash(card_id: int) -> Any:
    card = service.trash_card(get_session(), current_user(), card_id, None)
    flash(trashed_message(card))
    return redirect(url_for("web.products.show", product_id=card.product_id))


@bp.post("/cards/<int:card_id>/restore")
def restore(card_id: int) -> Any:
    service.restore_card(get_session(), current_user(), card_id)
    flash(_("The card is restored, with its tasks and history."))
    return redirect(url_for("web.cards.show", card_id=card_id))


@bp.post("/cards/<int:card_id>/tasks")
def add_task(card_id: int) -> Any:
    db, user = get_session(), current_user()
    card = service.get_card(db, card_id, viewer=current_user())
    typed = {key: text(key) for key in ("text", "type", "due_date", "due_time", "assignee_id")}
    typed["repeat"] = text("repeat")
    errors: dict[str, list[str]] = {}
    try:
        check_task_form(typed)
        day = optional_date("due_date")
        if day is None:  # refused above already; this tells the type checker
            raise Invalid({"due_date": [str(NO_TASK_DATE)]})
        due, all_day = deadline_payload(day, optional_time("due_time"), user_zone())
        payload: dict[str, Any] = {"text": typed["text"], "due": due, "all_day": all_day}
        if typed["type"]:
            payload["type"] = typed["type"]
        payload["assignee_id"] = optional_int("assignee_id", label="assignee_id") or user.id
        if typed["repeat"] in REPEATS:
            payload["repeat"] = {"freq": typed["repeat"]}
        create_task(db, user, card_id, TaskCreateSchema().load(payload))
    except (CardcrmError, ValidationError) as error:
        errors = task_messages(messages_of(error), typed)
        if not errors:
            errors = {"_": [getattr(error, "detail", "") or str(error)]}
    else:
        typed = {}
        if not is_htmx():
            flash(_("The task is added."))
            return redirect(url_for("web.cards.show", card_id=card_id))
    if not is_htmx():  # the whole page, with the form as it was typed
        context = card_context(db, card)
        context.update(new_task=typed, new_task_errors=errors)
        return render_template("cards/show.html", **context), 422
    context = tasks_context(db, card)
    context.update(new_task=typed, new_task_errors=errors)
    if errors:
        return render_template("cards/_tasks.html", **context), 422
    return render_template("cards/_tasks.html", **context), 200, CARD_CHANGED


def card_context(
    db: Session,
    card: Card,
    *,
    typed: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    stale: bool = False,
) -> dict[str, Any]:
    product = card.product
    zone = user_zone()
    current = {
        "title": card.title,
        "status_id": str(card.status_id),
        "owner_id": str(card.owner_id or ""),
        "fields": field_form_values(product.fields, card.fields, zone),
    }
    context = tasks_context(db, card)
    context.update(
        product=product,
        form=typed or current,
        current=current,
        stale=stale,
        errors=errors or {},
        known_errors=["title", "status_id", "owner_id"]
        + [f"fields.{field['key']}" for field in product.fields],
    )
    for part in CARD_PAGE_PARTS:
        context.update(part(db, card))
    return context


def tasks_context(db: Session, card: Card) -> dict[str, Any]:
    users = all_users(db)
    types = product_task_types(card.product)
    tasks = list_tasks(db, card.id, None, None, TASK_LIMIT)
    tasks.sort(key=lambda task: task.status != "open")
    return {
        "card": card,
        "tasks": tasks,
        "users": users,
        "names": user_names(users),
        "task_types": types,
        # A task shows its type by name, in the reader's language for the built-in ones.
        "task_type_labels": {kind["key"]: kind["label"] for kind in types},
        "new_task": {},
        "new_task_errors": {},
        "task_error": {},
    }
