"""Products: the list, a product's cards (filtered, next deadline first) and its board."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid
from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import EXCLUDE, ValidationError
from sqlalchemy.orm import Session

from ..cards import queries
from ..cards.schemas import CardListArgsSchema
from ..cards.service import get_card, update_card
from ..errors import StatusChangeRefused
from ..products import service
from ..products.models import Product
from ..products.schemas import ProductCreateSchema
from ..products.templates import list_templates
from ..quick_access.service import FILTER_KEYS, list_favorites
from .forms import messages_of, optional_int, safe_next, text
from .lookups import all_users, user_names
from .quick_access import favorite_links
from .security import admin_required, current_user, is_htmx

bp = Blueprint("products", __name__)

CARD_PAGE = 50
BOARD_COLUMN = 25
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
    flash(f"The product {product.name} is ready, with the statuses of its template.")
    return redirect(url_for("web.products.show", product_id=product.id))


@bp.get("/products/<int:product_id>")
def show(product_id: int) -> Any:
    db = get_session()
    product = service.get_product(db, product_id, viewer=current_user())
    filters, field_filters, errors = card_filters(product)
    args = {**filters, "limit": CARD_PAGE, "cursor": request.args.get("cursor") or None}
    try:
        cards, next_cursor = queries.list_cards(
            db, product, args, field_filters, viewer=current_user()
        )
    except Invalid as error:
        errors.update(messages_of(error))
        cards, next_cursor = queries.list_cards(
            db, product, {"limit": CARD_PAGE}, {}, viewer=current_user()
        )
    users = all_users(db)
    favorites = list_favorites(db, current_user(), product.id)
    query = {key: request.args[key] for key in request.args if _is_filter(key)}
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
    ), 422 if errors else 200


@bp.get("/products/<int:product_id>/board")
def board(product_id: int) -> Any:
    db = get_session()
    product = service.get_product(db, product_id, viewer=current_user())
    return render_template("products/board.html", **board_context(db, product))


@bp.post("/cards/<int:card_id>/move")
def move(card_id: int) -> Any:
    """Move a card to another status; a plugin's veto is shown beside the card."""
    db = get_session()
    card = get_card(db, card_id, viewer=current_user())
    product_id = card.product_id
    status_id = optional_int("status_id", label="status_id")
    veto: dict[int, str] = {}
    try:
        if status_id is None:
            raise Invalid({"status_id": ["Choose the status to move the card to."]})
        update_card(db, current_user(), card_id, {"status_id": status_id}, None)
    except (StatusChangeRefused, Invalid) as refused:
        veto[card_id] = " ".join(" ".join(texts) for texts in messages_of(refused).values())
    if not is_htmx():
        if veto:
            flash(veto[card_id], "error")
        back = url_for("web.products.board", product_id=product_id)
        return redirect(safe_next(text("next"), back))
    product = service.get_product(db, product_id, viewer=current_user())
    context = board_context(db, product, veto=veto)
    return render_template("products/_board.html", **context), 422 if veto else 200


def board_context(db: Session, product: Product, veto: dict[int, str] | None = None) -> dict:
    columns = []
    for status in product.statuses:
        args = {"status_id": status.id, "limit": BOARD_COLUMN}
        cards, more = queries.list_cards(db, product, args, {}, viewer=current_user())
        columns.append({"status": status, "cards": cards, "more": more is not None})
    users = all_users(db)
    return {
        "product": product,
        "columns": columns,
        "names": user_names(users),
        "veto": veto or {},
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
