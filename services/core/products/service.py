"""Rules for products; each public function owns its transaction.

Statuses (``statuses``), members (``members``), templates (``templates``) and task types
(``task_types``) have their own modules.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Conflict, Invalid, NotFound, ensure_version
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import utcnow
from cardcrm.common.translate import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from ..access import scope_of
from ..auth.models import User
from ..cards.amount import money_key
from ..cards.amount_recompute import recompute_amounts
from ..cards.models import Card
from ..events import record_event
from ..files.contents import release_contents, remove_files_of_cards
from ..files.storage import get_storage
from .models import GROUPS, Product, Status
from .schemas import ProductSchema
from .templates import find_template


def get_product(
    session: Session, product_id: int, viewer: User | None = None, *, share_lock: bool = False
) -> Product:
    """The product; with ``viewer``, only if that user may see it (else 404).

    ``share_lock``: read from the database (not taken from the session) under a share lock on
    the product's row (PostgreSQL; SQLite's write transactions run one at a time anyway), so
    that its fields cannot change before the caller's transaction ends: a new card's amount
    is computed from the money field it names (``cards/amount.py``)."""
    # Statuses come in the same query: every use of a product reads them.
    locked: dict[str, Any] = (
        {"populate_existing": True, "with_for_update": {"read": True, "of": Product}}
        if share_lock
        else {}
    )
    product = session.get(Product, product_id, options=[joinedload(Product.statuses)], **locked)
    if product is None or (
        viewer is not None and not scope_of(session, viewer).sees_product(product_id)
    ):
        raise NotFound(_("No product %(id)s.", id=product_id))
    return product


def list_products(session: Session, viewer: User | None = None) -> list[Product]:
    """The products by name; with ``viewer``, those that user may see."""
    query = select(Product).order_by(Product.name, Product.id)
    scope = scope_of(session, viewer) if viewer is not None else None
    if scope is not None and not scope.everything:
        query = query.where(Product.id.in_(scope.product_ids))
    return list(session.scalars(query))


def create_product(session: Session, actor: User | None, data: dict[str, Any]) -> Product:
    template = find_template(data["template"]) if data.get("template") else None
    statuses = data.get("statuses") or (template or {}).get("statuses") or []
    fields = data.get("fields")
    if fields is None:
        fields = (template or {}).get("fields", [])
    task_types = data.get("task_types")
    if task_types is None:
        task_types = (template or {}).get("task_types", [])
    check_status_names([status["name"] for status in statuses])
    with write_transaction(session):
        product = Product(
            name=data["name"],
            slug=_free_slug(session, data["name"]),
            template=template["key"] if template else None,
            fields=list(fields),
            task_types=list(task_types),
        )
        positions = dict.fromkeys(GROUPS, 0)
        for item in statuses:
            product.statuses.append(
                Status(
                    name=item["name"],
                    group=item["group"],
                    group_order=GROUPS.index(item["group"]),
                    position=positions[item["group"]],
                )
            )
            positions[item["group"]] += 1
        touch(product)
        session.add(product)
        session.flush()
        record_event(session, EventType.PRODUCT_CREATED, product_data(product), actor=actor)
    return product


def update_product(
    session: Session,
    actor: User | None,
    product_id: int,
    changes: dict[str, Any],
    expected: set[int] | None,
) -> Product:
    with write_transaction(session):
        product = get_product(session, product_id)
        ensure_version(product.version, expected)
        money_before = money_key(product.fields)
        for key in ("name", "fields", "task_types"):
            if key in changes:
                setattr(product, key, changes[key])
        session.flush()
        if money_key(product.fields) != money_before:
            # The cards' sums follow the new money field: the product's row is locked by the
            # flush above, so card writes wait for this transaction (``cards.amount``).
            recompute_amounts(session.connection(), product.id, money_key(product.fields))
        record_event(session, EventType.PRODUCT_UPDATED, product_data(product), actor=actor)
    return product


def delete_product(session: Session, actor: User | None, product_id: int, force: bool) -> None:
    with write_transaction(session):
        product = get_product(session, product_id)
        cards = session.scalar(select(func.count(Card.id)).where(Card.product_id == product.id))
        if cards and not force:
            raise Conflict(
                _(
                    "The product has %(count)s card(s); delete with ?force=true to delete them "
                    "too.",
                    count=cards,
                ),
                cards=cards,
            )
        data = product_data(product)
        # Cards go first (their tasks and history with them, by the foreign keys' cascade):
        # they reference the statuses that go with the product. Their files' bytes go after
        # the commit (those no other card's file names).
        contents = remove_files_of_cards(
            session, select(Card.id).where(Card.product_id == product.id)
        )
        session.execute(delete(Card).where(Card.product_id == product.id))
        session.delete(product)
        record_event(session, EventType.PRODUCT_DELETED, data, actor=actor)
    release_contents(session, get_storage(), contents)


def product_data(product: Product) -> dict[str, Any]:
    return ProductSchema().dump(product)


# --- helpers ----------------------------------------------------------------------------------


def touch(product: Product) -> None:
    """Make a new version of ``product`` after a change of its statuses."""
    # Statuses belong to the product's representation, so changing one makes a new version.
    product.updated_at = utcnow()
    # Keep the loaded list in the order the database returns it in (group, then position).
    product.statuses.sort(key=lambda status: (status.group_order, status.position))


def check_status_names(names: list[str]) -> None:
    """Status names are unique within a product, whatever their case and spacing."""
    folded = [name.strip().casefold() for name in names]
    if len(folded) != len(set(folded)):
        raise Invalid({"name": [_("Status names must be unique within a product.")]})


def _free_slug(session: Session, name: str) -> str:
    base = _slugify(name) or "product"
    taken = set(session.scalars(select(Product.slug).where(Product.slug.like(f"{base}%"))))
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


def _slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]
