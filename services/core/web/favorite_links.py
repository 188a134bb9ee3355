"""A user's saved filters as links to their product's card list (Today and the product page)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import url_for
from sqlalchemy.orm import Session

from ..products.service import list_products
from ..quick_access.models import Favorite
from .security import current_user


def favorite_links(db: Session, favorites: list[Favorite]) -> list[dict[str, Any]]:
    names = (
        {product.id: product.name for product in list_products(db, viewer=current_user())}
        if favorites
        else {}
    )
    return [
        {
            "id": favorite.id,
            "name": favorite.name,
            "product": names.get(favorite.product_id, ""),
            "url": url_for("web.products.show", product_id=favorite.product_id)
            + query_string(favorite.query),
        }
        for favorite in favorites
    ]


def query_string(query: dict[str, Any]) -> str:
    return "?" + urlencode(query) if query else ""
