"""SQL pieces the reports share: a card's money value (in cents) and the seconds between two
instants."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import case
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Float

from ..cards.models import Card
from ..products.models import Product


def money_field(product: Product) -> dict[str, Any] | None:
    """The product's first money field: the one whose values a report sums."""
    return next((field for field in product.fields if field.get("type") == "money"), None)


def money_value(products: Iterable[Product], card: Any = Card) -> ColumnElement[Any] | None:
    """A card's value in its product's first money field, in whole cents (None: no product
    has such a field).

    The value is ``cards.amount_cents``, kept by every card write (``cards/amount.py``): a
    column, so summing a year of won cards reads no JSON. Products without a money field
    count nothing (their cards' column is empty anyway; the CASE keeps that true in SQL).
    """
    ids = [product.id for product in products if money_field(product) is not None]
    if not ids:
        return None
    return case((card.product_id.in_(ids), card.amount_cents), else_=None)


class seconds_between(FunctionElement[float]):  # noqa: N801 (a SQL function's name)
    """``end - start`` in seconds, for two instants as the dialect stores them."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between)
def _seconds_default(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"
