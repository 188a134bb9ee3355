"""SQL pieces the reports share: a card's money value and the seconds between two instants."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Numeric, case, cast
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
    """A card's value in its product's first money field, as a number (None: no such field).

    Money is stored as a decimal string (``"1250.00"``), so the database sums it exactly.
    """
    whens = {
        product.id: card.fields[field["key"]].as_string()
        for product in products
        if (field := money_field(product)) is not None
    }
    if not whens:
        return None
    return cast(case(whens, value=card.product_id), Numeric(18, 2))


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
