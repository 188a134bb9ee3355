"""Rules for products and statuses; each public function owns its transaction."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Conflict, Invalid, NotFound, ensure_version
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import utcnow
from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from ..access import scope_of
from ..auth.models import User
from ..events import record_event
from .models import GROUPS, Product, Status

BUILTIN_TASK_TYPES = (
    {"key": "call", "label": "Call"},
    {"key": "email", "label": "E-mail"},
    {"key": "meeting", "label": "Meeting"},
    {"key": "todo", "label": "To-do"},
)


# --- Templates --------------------------------------------------------------------------------


def list_templates(plugins: Any | None = None) -> list[dict[str, Any]]:
    """Every template the plugins offer, each tagged with the plugin that offers it."""
    manager = plugins or current_app.extensions["cardcrm_plugins"]
    templates: dict[str, dict[str, Any]] = {}
    for impl in manager.hook.cardcrm_product_templates.get_hookimpls():
        for template in impl.function() or []:
            templates.setdefault(template["key"], {**template, "plugin": impl.plugin_name})
    return sorted(templates.values(), key=lambda template: template["key"])


def find_template(key: str) -> dict[str, Any]:
    for template in list_templates():
        if template["key"] == key:
            return template
    raise Invalid({"template": [f"No template {key!r}; GET /api/v1/templates lists them."]})


def product_task_types(product: Product) -> list[dict[str, str]]:
    """Built-in types, then the product's own, then those plugins add everywhere."""
    manager = current_app.extensions["cardcrm_plugins"]
    extra = [item for result in manager.hook.cardcrm_task_types() for item in (result or [])]
    seen: dict[str, dict[str, str]] = {}
    for item in (*BUILTIN_TASK_TYPES, *(product.task_types or []), *extra):
        seen.setdefault(item["key"], {"key": item["key"], "label": item["label"]})
    return list(seen.values())


# --- Products ---------------------------------------------------------------------------------


def get_product(session: Session, product_id: int, viewer: User | None = None) -> Product:
    """The product; with ``viewer``, only if that user may see it (else 404)."""
    # Statuses come in the same query: every use of a product reads them.
    product = session.get(Product, product_id, options=[joinedload(Product.statuses)])
    if product is None or (
        viewer is not None and not scope_of(session, viewer).sees_product(product_id)
    ):
        raise NotFound(f"No product {product_id}.")
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
    fields = (
        data.get("fields") if data.get("fields") is not None else (template or {}).get("fields", [])
    )
    task_types = data.get("task_types")
    if task_types is None:
        task_types = (template or {}).get("task_types", [])
    _check_unique_names([status["name"] for status in statuses])
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
        _touch(product)
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
        for key in ("name", "fields", "task_types"):
            if key in changes:
                setattr(product, key, changes[key])
        session.flush()
        record_event(session, EventType.PRODUCT_UPDATED, product_data(product), actor=actor)
    return product


def delete_product(session: Session, actor: User | None, product_id: int, force: bool) -> None:
    from ..cards.models import Card

    with write_transaction(session):
        product = get_product(session, product_id)
        cards = session.scalar(select(func.count(Card.id)).where(Card.product_id == product.id))
        if cards and not force:
            raise Conflict(
                f"The product has {cards} card(s); delete with ?force=true to delete them too.",
                cards=cards,
            )
        data = product_data(product)
        # Cards go first (their tasks and history with them, by the foreign keys' cascade):
        # they reference the statuses that go with the product.
        session.execute(delete(Card).where(Card.product_id == product.id))
        session.delete(product)
        record_event(session, EventType.PRODUCT_DELETED, data, actor=actor)


# --- Statuses ---------------------------------------------------------------------------------


def get_status(session: Session, status_id: int) -> Status:
    status = session.get(Status, status_id)
    if status is None:
        raise NotFound(f"No status {status_id}.")
    return status


def add_status(
    session: Session, actor: User | None, product_id: int, data: dict[str, Any]
) -> Status:
    with write_transaction(session):
        product = get_product(session, product_id)
        _check_unique_names([status.name for status in product.statuses] + [data["name"]])
        status = Status(name=data["name"], group=data["group"], group_order=0, position=0)
        _place(product, status, data["group"], data.get("position"))
        product.statuses.append(status)
        _touch(product)
        session.flush()
        record_event(session, EventType.PRODUCT_UPDATED, product_data(product), actor=actor)
    return status


def update_status(
    session: Session, actor: User | None, status_id: int, changes: dict[str, Any]
) -> Status:
    with write_transaction(session):
        status = get_status(session, status_id)
        product = status.product
        if "name" in changes and changes["name"] != status.name:
            _check_unique_names(
                [other.name for other in product.statuses if other is not status]
                + [changes["name"]]
            )
            status.name = changes["name"]
        group_changed = changes.get("group", status.group) != status.group
        if group_changed or "position" in changes:
            _place(product, status, changes.get("group", status.group), changes.get("position"))
        _touch(product)
        session.flush()
        record_event(session, EventType.PRODUCT_UPDATED, product_data(product), actor=actor)
    return status


def delete_status(
    session: Session, actor: User | None, status_id: int, move_to: int | None
) -> None:
    from ..cards.service import move_all_cards

    with write_transaction(session):
        status = get_status(session, status_id)
        product = status.product
        if len(product.statuses) == 1:
            raise Conflict("A product keeps at least one status.")
        target = None
        if move_to is not None:
            target = session.get(Status, move_to)
            if target is None or target.product_id != product.id or target.id == status.id:
                raise Invalid({"move_to": ["Name another status of the same product."]})
        moved = move_all_cards(session, actor, status, target)
        if moved is None:
            raise Conflict(
                "Cards are in this status; give ?move_to={status_id} to move them first."
            )
        product.statuses.remove(status)
        _renumber(product, status.group)
        _touch(product)
        session.flush()
        record_event(session, EventType.PRODUCT_UPDATED, product_data(product), actor=actor)


def product_data(product: Product) -> dict[str, Any]:
    from .schemas import ProductSchema

    return ProductSchema().dump(product)


# --- helpers ----------------------------------------------------------------------------------


def _place(product: Product, status: Status, group: str, position: int | None) -> None:
    """Put ``status`` at ``position`` (default: last) in ``group`` and renumber both groups."""
    old_group = status.group
    members = [other for other in _group(product, group) if other is not status]
    position = len(members) if position is None else min(position, len(members))
    members.insert(position, status)
    status.group, status.group_order = group, GROUPS.index(group)
    for index, member in enumerate(members):
        member.position = index
    if old_group and old_group != group:
        _renumber(product, old_group, exclude=status)


def _renumber(product: Product, group: str, exclude: Status | None = None) -> None:
    members = [status for status in _group(product, group) if status is not exclude]
    for index, member in enumerate(members):
        member.position = index


def _group(product: Product, group: str) -> list[Status]:
    return sorted(
        (status for status in product.statuses if status.group == group),
        key=lambda status: status.position,
    )


def _touch(product: Product) -> None:
    # Statuses belong to the product's representation, so changing one makes a new version.
    product.updated_at = utcnow()
    # Keep the loaded list in the order the database returns it in (group, then position).
    product.statuses.sort(key=lambda status: (status.group_order, status.position))


def _check_unique_names(names: list[str]) -> None:
    folded = [name.strip().casefold() for name in names]
    if len(folded) != len(set(folded)):
        raise Invalid({"name": ["Status names must be unique within a product."]})


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
