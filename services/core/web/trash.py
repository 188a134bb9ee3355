"""A product's trash: the cards moved there, newest first, to restore (or, for admins, to
delete for good). A card's page says it is in the trash; this page is where to find it again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.pagination import decode_cursor, encode_cursor
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload

from ..access import visible_cards_condition
from ..cards import service
from ..cards.models import Card
from ..products.service import get_product
from .lookups import all_users, user_names
from .security import current_user

bp = Blueprint("trash", __name__)

TRASH_PAGE = 50


@bp.get("/products/<int:product_id>/trash")
def show(product_id: int) -> Any:
    db, user = get_session(), current_user()
    product = get_product(db, product_id, viewer=user)
    query = (
        select(Card)
        .where(Card.product_id == product.id, Card.trashed_at.is_not(None))
        .options(joinedload(Card.status, innerjoin=True))
        .order_by(Card.trashed_at.desc(), Card.id.desc())
        .limit(TRASH_PAGE + 1)
    )
    visible = visible_cards_condition(db, user)
    if visible is not None:
        query = query.where(visible)
    after = _position(request.args.get("cursor"))
    if after is not None:
        at, card_id = after
        query = query.where(
            or_(Card.trashed_at < at, and_(Card.trashed_at == at, Card.id < card_id))
        )
    cards = list(db.scalars(query))
    more = len(cards) > TRASH_PAGE
    cards = cards[:TRASH_PAGE]
    cursor = None
    if more:
        last = cards[-1]
        assert last.trashed_at is not None  # the query keeps trashed cards only
        cursor = encode_cursor({"at": last.trashed_at.isoformat(), "id": last.id})
    return render_template(
        "trash/show.html",
        product=product,
        cards=cards,
        cursor=cursor,
        names=user_names(all_users(db)),
    )


@bp.post("/cards/<int:card_id>/purge")
def purge(card_id: int) -> Any:
    db = get_session()
    card = service.get_card(db, card_id, viewer=current_user())
    product_id, title = card.product_id, card.title
    service.purge_card(db, current_user(), card_id)
    flash(_("“%(card)s” is deleted for good, with its tasks and history.", card=title))
    return redirect(url_for("web.trash.show", product_id=product_id))


def trashed_message(card: Card) -> Markup:
    """What the page after trashing says: where the card went, with a link there."""
    link = url_for("web.trash.show", product_id=card.product_id)
    # The words come from the catalogue; only the title and the link are the card's.
    return Markup(
        _(
            '“%(card)s” is in the trash. <a href="%(url)s">Open the trash</a> to restore it.',
            card=escape(card.title),
            url=escape(link),
        )
    )


def _position(cursor: str | None) -> tuple[datetime, int] | None:
    position = decode_cursor(cursor) or {}
    try:
        return datetime.fromisoformat(position["at"]), int(position["id"])
    except (KeyError, TypeError, ValueError):
        return None
