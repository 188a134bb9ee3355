"""Products: the list, a product's cards (filtered, next deadline first) and its board."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid, PreconditionFailed
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, ValidationError
from sqlalchemy.orm import Session

from ..cards import queries
from ..cards.models import Card
from ..cards.schemas import CardListArgsSchema
from ..cards.service import get_card, update_card
from ..cards.sorting import DEFAULT_SORT
from ..errors import StatusChangeRefused
from ..products import service
from ..products.models import Product
from ..products.schemas import ProductCreateSchema
from ..products.templates import list_templates
from ..quick_access.service import FILTER_KEYS, list_favorites
from .board import (
    SORTABLE_VERSION,
    Totals,
    avatar_colour,
    column_totals,
    field_sorts_offered,
    field_text,
    format_money,
    initials,
    key_fields,
    money_field,
    next_tasks,
)
from .favorite_links import favorite_links
from .forms import messages_of, optional_int, safe_next, text
from .lookups import all_users, user_names
from .security import admin_required, current_user, is_htmx

bp = Blueprint("products", __name__)

CARD_PAGE = 50
BOARD_COLUMN = 25
STALE_MOVE = _l(
    "Someone else changed this card meanwhile: it is shown as it is now. "
    "Move it again if you still want to."
)
#: The filters the product page offers (a saved favourite may hold ``field.<key>`` ones too).
PAGE_FILTERS = ("status_id", "group", "owner_id", "q")


@bp.get("/products")
def index() -> Any:
    db = get_session()
    templates = list_templates() if current_user().is_admin else []
    return render_template(
        "products/index.html",
        products=service.list_products(db, viewer=current_user()),
        templates=templates,
    )


@bp.post("/products")
@admin_required
def create() -> Any:
    db = get_session()
    typed = {"name": text("name"), "template": text("template")}
    try:
        data = ProductCreateSchema().load({key: value for key, value in typed.items() if value})
        product = service.create_product(db, current_user(), data)
    except (Invalid, ValidationError) as error:
        errors = messages_of(error)
        page = render_template(
            "products/index.html",
            products=service.list_products(db, viewer=current_user()),
            templates=list_templates(),
            typed=typed,
            errors=errors,
        )
        return page, 422
    flash(
        _(
            "The product %(product)s is ready, with the statuses of its template.",
            product=product.name,
        )
    )
    return redirect(url_for("web.products.show", product_id=product.id))


@bp.get("/products/<int:product_id>")
def show(product_id: int) -> Any:
    return product_page(product_id)


def product_page(
    product_id: int,
    *,
    new_card: dict[str, Any] | None = None,
    new_card_errors: dict[str, list[str]] | None = None,
    favorite_name: str = "",
    favorite_errors: dict[str, list[str]] | None = None,
) -> tuple[str, int]:
    """The product's card list; a refused "New card" or "Save as favourite" form comes back
    in it with what was typed and each message beside its field (422)."""
    db = get_session()
    product = service.get_product(db, product_id, viewer=current_user())
    filters, field_filters, errors = card_filters(product)
    sort = request.args.get("sort") or DEFAULT_SORT
    args = {
        **filters,
        "limit": CARD_PAGE,
        "cursor": request.args.get("cursor") or None,
        "sort": sort,
    }
    try:
        cards, next_cursor = queries.list_cards(
            db, product, args, field_filters, viewer=current_user()
        )
    except Invalid as error:
        errors.update(messages_of(error))
        sort = DEFAULT_SORT
        cards, next_cursor = queries.list_cards(
            db, product, {"limit": CARD_PAGE}, {}, viewer=current_user()
        )
    users = all_users(db)
    favorites = list_favorites(db, current_user(), product.id)
    query = {key: request.args[key] for key in request.args if _is_filter(key)}
    shown_fields = key_fields(product)
    return render_template(
        "products/show.html",
        product=product,
        cards=cards,
        next_cursor=next_cursor,
        users=users,
        names=user_names(users),
        filters=filters,
        field_filters=field_filters,
        query=query,
        favorites=favorite_links(db, favorites),
        errors=errors,
        sort=sort,
        sort_columns=sort_columns(shown_fields, field_sorts_offered(db, product)),
        key_fields=shown_fields,
        field_text=field_text,
        next_tasks=next_tasks(db, cards),
        initials=initials,
        avatar_colour=avatar_colour,
        new_card=new_card or {"owner_id": str(current_user().id), "fields": {}},
        new_card_errors=new_card_errors or {},
        new_card_known=["title", "status_id", "owner_id"]
        + [f"fields.{field['key']}" for field in product.fields if field.get("required")],
        favorite_name=favorite_name,
        favorite_errors=favorite_errors or {},
    ), 422 if errors or new_card_errors or favorite_errors else 200


def sort_columns(fields: list[dict[str, Any]], field_sorts: bool) -> list[dict[str, Any]]:
    """The list's column headers: each a sort (``updated`` starts with the newest); key
    fields sort only when ``field_sorts`` (a product with few enough cards)."""
    # On a phone the title, status and next task columns are shown ("narrow").
    columns: list[dict[str, Any]] = [
        {"sort": "title", "label": _("Title"), "first": "title", "narrow": True},
        {"sort": "status", "label": _("Status"), "first": "status", "narrow": True},
        {"sort": "owner", "label": _("Owner"), "first": "owner"},
        {"sort": "next_task", "label": _("Next task"), "first": "next_task", "narrow": True},
    ]
    for field in fields:
        sort = f"field.{field['key']}"
        money = field["type"] in ("money", "number")
        columns.append(
            {
                "sort": sort if field_sorts else None,
                "label": field["label"],
                "first": sort,
                "numeric": money,
            }
        )
    columns.append({"sort": "updated", "label": _("Updated"), "first": "-updated"})
    return columns


@bp.get("/products/<int:product_id>/board")
def board(product_id: int) -> Any:
    db = get_session()
    product = service.get_product(db, product_id, viewer=current_user())
    context = board_context(db, product)
    return render_template("products/board.html", **context, SORTABLE_VERSION=SORTABLE_VERSION)


@bp.post("/cards/<int:card_id>/move")
def move(card_id: int) -> Any:
    """Move a card to another status (from the Move form, or a card dropped on a column).

    The form carries the card's version: a move of a card someone changed meanwhile is
    refused, and the card is shown where it is now with a message; so is a plugin's veto.
    """
    db = get_session()
    card = get_card(db, card_id, viewer=current_user())
    product_id = card.product_id
    notes: dict[int, str] = {}
    status = 200
    try:
        status_id = optional_int("status_id", label="status_id")
        version = optional_int("version", label="version")
        if status_id is None:
            raise Invalid({"status_id": [_("Choose the status to move the card to.")]})
        update_card(
            db, current_user(), card_id, {"status_id": status_id}, {version} if version else None
        )
    except PreconditionFailed:
        notes[card_id], status = str(STALE_MOVE), 412
    except (StatusChangeRefused, Invalid) as refused:
        notes[card_id] = " ".join(" ".join(texts) for texts in messages_of(refused).values())
        status = 422
    if not is_htmx():
        if notes:
            flash(notes[card_id], "error")
        back = url_for("web.products.board", product_id=product_id)
        return redirect(safe_next(text("next"), back))
    db.expire_all()
    product = service.get_product(db, product_id, viewer=current_user())
    context = board_context(db, product, veto=notes, moved=card_id)
    return render_template("products/_board.html", **context), status


def board_context(
    db: Session, product: Product, veto: dict[int, str] | None = None, moved: int | None = None
) -> dict:
    """The board's columns: each status's first cards, with its count and money total."""
    viewer = current_user()
    money = money_field(product)
    totals = column_totals(db, product, viewer, money)
    columns: list[dict[str, Any]] = []
    shown: list[Card] = []
    for status in product.statuses:
        args = {"status_id": status.id, "limit": BOARD_COLUMN}
        cards, _more = queries.list_cards(db, product, args, {}, viewer=viewer)
        columns.append({"status": status, "cards": cards})
        shown += cards
    if moved is not None and moved not in {card.id for card in shown}:
        # The card just moved stays in sight even when its column shows others first.
        card = get_card(db, moved, viewer=viewer)
        column = next((c for c in columns if c["status"].id == card.status_id), None)
        if column is not None and not card.trashed:
            column["cards"].append(card)
            shown.append(card)
    for column in columns:
        total = totals.get(column["status"].id, Totals(0, None))
        column["count"] = total.count
        column["amount"] = format_money(
            total.amount if money else None, (money or {}).get("currency")
        )
        column["more"] = max(total.count - len(column["cards"]), 0)
    users = all_users(db)
    described = [field for field in key_fields(product) if field is not money][:2]
    return {
        "product": product,
        "columns": columns,
        "names": user_names(users),
        "money": money,
        "values": {
            card.id: field_text(money, card.fields.get(money["key"])) for card in shown if money
        },
        "details": {
            card.id: " · ".join(
                text
                for field in described
                if (text := field_text(field, card.fields.get(field["key"])))
            )
            for card in shown
        },
        "next_tasks": next_tasks(db, shown),
        "initials": initials,
        "avatar_colour": avatar_colour,
        "veto": veto or {},
        "moved": moved,
    }


def card_filters(product: Product) -> tuple[dict[str, Any], dict[str, str], dict[str, list[str]]]:
    """The filters in the query string, checked by the API's schema (bad ones are reported)."""
    raw = {key: request.args[key] for key in FILTER_KEYS if request.args.get(key)}
    errors: dict[str, list[str]] = {}
    try:
        filters = CardListArgsSchema(unknown=EXCLUDE).load(raw)
    except ValidationError as error:
        errors = messages_of(error)
        filters = CardListArgsSchema(unknown=EXCLUDE).load(
            {key: value for key, value in raw.items() if key not in errors}
        )
    filters.pop("limit", None)
    filters.pop("cursor", None)
    return filters, queries.field_filters_of(request.args), errors


def _is_filter(key: str) -> bool:
    return key in FILTER_KEYS or key.startswith(queries.FIELD_PREFIX)
