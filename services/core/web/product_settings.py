"""Admins shape a product: its name, its statuses (add, rename, move, delete) and card fields."""

from __future__ import annotations

import re
from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import CardcrmError, Conflict, Invalid
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from ..products import service, statuses
from ..products.schemas import (
    ProductUpdateSchema,
    StatusSchema,
    StatusUpdateSchema,
)
from .form_messages import worded
from .forms import messages_of, optional_int, text
from .security import admin_required, current_user

bp = Blueprint("product_settings", __name__)

MOVE_CARDS_FIRST = _l("Cards are in this status: choose the status they go to.")


@bp.get("/products/<int:product_id>/settings")
@admin_required
def show(product_id: int) -> Any:
    product = service.get_product(get_session(), product_id)
    return render_template(
        "products/settings.html", product=product, typed={}, errors={}, refused="", known=INPUTS
    )


@bp.post("/products/<int:product_id>/settings")
@admin_required
def rename(product_id: int) -> Any:
    version = optional_int("version")
    return _apply(
        product_id,
        lambda db, user: service.update_product(
            db,
            user,
            product_id,
            ProductUpdateSchema().load({"name": text("name")}),
            {version} if version else None,
        ),
        _("The product is renamed."),
        "rename",
    )


@bp.post("/products/<int:product_id>/statuses")
@admin_required
def add_status(product_id: int) -> Any:
    data = {"name": text("name"), "group": text("group")}
    return _apply(
        product_id,
        lambda db, user: statuses.add_status(db, user, product_id, StatusSchema().load(data)),
        _("The status %(status)s is added.", status=data["name"]),
        "new-status",
    )


@bp.post("/statuses/<int:status_id>")
@admin_required
def update_status(status_id: int) -> Any:
    db = get_session()
    status = statuses.get_status(db, status_id)
    changes: dict[str, Any] = {"name": text("name"), "group": text("group")}
    move = text("move")
    if move == "up":
        changes["position"] = max(status.position - 1, 0)
    elif move == "down":
        changes["position"] = status.position + 1
    return _apply(
        status.product_id,
        lambda db, user: statuses.update_status(
            db, user, status_id, StatusUpdateSchema().load(changes)
        ),
        _("The status is saved."),
        f"status-{status_id}",
    )


@bp.post("/statuses/<int:status_id>/delete")
@admin_required
def delete_status(status_id: int) -> Any:
    status = statuses.get_status(get_session(), status_id)
    move_to = optional_int("move_to", label="move_to")
    keeps_others = len(status.product.statuses) > 1

    def delete(db: Any, user: Any) -> None:
        try:
            statuses.delete_status(db, user, status_id, move_to)
        except Conflict as refused:
            if move_to is None and keeps_others:  # the API's text names its query parameter
                raise Invalid({"move_to": [str(MOVE_CARDS_FIRST)]}) from refused
            raise

    return _apply(
        status.product_id,
        delete,
        _("The status %(status)s is deleted.", status=status.name),
        f"delete-status-{status_id}",
    )


@bp.post("/products/<int:product_id>/fields")
@admin_required
def add_field(product_id: int) -> Any:
    definition = _definition(
        {"key": text("key"), "label": text("label"), "type": text("type")}, new=True
    )
    return _save_fields(
        product_id,
        lambda fields: [*fields, definition],
        _("The field %(field)s is added.", field=text("label")),
        "new-field",
    )


@bp.post("/products/<int:product_id>/fields/<key>")
@admin_required
def update_field(product_id: int, key: str) -> Any:
    if text("delete"):
        return _save_fields(
            product_id,
            lambda fields: [field for field in fields if field["key"] != key],
            _("The field is removed; a card's value of it goes when the card is next saved."),
            f"field-{key}",
        )

    def change(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            _definition({**field, "label": text("label")}) if field["key"] == key else field
            for field in fields
        ]

    return _save_fields(product_id, change, _("The field is saved."), f"field-{key}")


def _definition(base: dict[str, Any], new: bool = False) -> dict[str, Any]:
    definition = {key: value for key, value in base.items() if value not in ("", None)}
    definition["required"] = bool(request.form.get("required"))
    if definition.get("type") in ("choice", "multichoice"):
        choices = [item.strip() for item in re.split(r"[\n,]", text("choices")) if item.strip()]
        definition["choices"] = choices
    else:
        definition.pop("choices", None)
    if new and not definition.get("key") and definition.get("label"):
        definition["key"] = _key_from(definition["label"])
    return definition


def _key_from(label: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return key if re.match(r"^[a-z]", key) else f"field_{key}"


def _save_fields(product_id: int, change: Any, done: str, form: str) -> Any:
    def apply(db: Any, user: Any) -> Any:
        product = service.get_product(db, product_id)
        fields = ProductUpdateSchema().load({"fields": change(list(product.fields))})["fields"]
        version = optional_int("version")
        return service.update_product(
            db, user, product_id, {"fields": fields}, {version} if version else None
        )

    return _apply(product_id, apply, done, form)


#: What to say when a name was left empty, by input.
BLANK = {
    "rename": {"name": _l("Give the product a name.")},
    "status": {"name": _l("Give the status a name.")},
    "field": {
        "label": _l("Give the field a label."),
        "choices": _l("List the choices, comma-separated."),
    },
}


def _apply(product_id: int, change: Any, done: str, form: str) -> Any:
    """Run ``change``; if it is refused, the page comes back with what was typed in ``form``
    (the refused form's name) and each message beside its input in that form."""
    db = get_session()
    try:
        change(db, current_user())
    except (CardcrmError, ValidationError) as error:
        typed = {key: value for key, value in request.form.items() if key != "csrf_token"}
        kind = "rename" if form == "rename" else "field" if "field" in form else "status"
        blank = {key: str(text) for key, text in BLANK[kind].items()}
        errors = worded(_errors_by_input(error), typed, blank)
        if isinstance(error, CardcrmError) and not errors:
            errors = {"_": [error.detail]}
        product = service.get_product(db, product_id)
        page = render_template(
            "products/settings.html",
            product=product,
            typed=typed,
            errors=errors,
            refused=form,
            known=INPUTS,
        )
        status = error.status if isinstance(error, CardcrmError) else 422
        return page, status
    flash(done)
    return redirect(url_for("web.product_settings.show", product_id=product_id))


#: The inputs of the settings forms: their messages show beside them, the rest at the top.
INPUTS = ("name", "group", "move_to", "label", "choices", "key", "type")


def _errors_by_input(error: Exception) -> dict[str, list[str]]:
    """Messages by the form's input name. A product's ``fields`` list is checked as a whole
    (``{"fields": {index: {"label": [...]}}}``): its inner names are the inputs' names."""
    raw = error.messages if isinstance(error, ValidationError) else None
    nested = raw.get("fields") if isinstance(raw, dict) else None
    if isinstance(nested, dict):
        errors: dict[str, list[str]] = {}
        for item in nested.values():
            for key, texts in (item if isinstance(item, dict) else {"_": item}).items():
                errors.setdefault(key, []).extend(messages_of(ValidationError({key: texts}))[key])
        return errors
    errors = messages_of(error)
    if "fields" in errors:  # "Each field key may appear once."
        errors["key"] = errors.pop("fields")
    return errors
