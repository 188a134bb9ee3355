"""Rules for a product's statuses: add, rename, reorder and delete (moving its cards off)."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Conflict, Invalid, NotFound
from cardcrm.common.events import EventType
from cardcrm.common.translate import gettext as _
from sqlalchemy.orm import Session

from ..auth.models import User
from ..cards.changes import move_cards
from ..events import record_event
from .models import GROUPS, Product, Status
from .service import check_status_names, get_product, product_data, touch


def get_status(session: Session, status_id: int) -> Status:
    status = session.get(Status, status_id)
    if status is None:
        raise NotFound(_("No status %(id)s.", id=status_id))
    return status


def add_status(
    session: Session, actor: User | None, product_id: int, data: dict[str, Any]
) -> Status:
    with write_transaction(session):
        product = get_product(session, product_id)
        check_status_names([status.name for status in product.statuses] + [data["name"]])
        status = Status(name=data["name"], group=data["group"], group_order=0, position=0)
        _place(product, status, data["group"], data.get("position"))
        product.statuses.append(status)
        touch(product)
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
            check_status_names(
                [other.name for other in product.statuses if other is not status]
                + [changes["name"]]
            )
            status.name = changes["name"]
        group_changed = changes.get("group", status.group) != status.group
        if group_changed or "position" in changes:
            _place(product, status, changes.get("group", status.group), changes.get("position"))
        touch(product)
        session.flush()
        record_event(session, EventType.PRODUCT_UPDATED, product_data(product), actor=actor)
    return status


def delete_status(
    session: Session, actor: User | None, status_id: int, move_to: int | None
) -> None:
    with write_transaction(session):
        status = get_status(session, status_id)
        product = status.product
        if len(product.statuses) == 1:
            raise Conflict(_("A product keeps at least one status."))
        target = None
        if move_to is not None:
            target = session.get(Status, move_to)
            if target is None or target.product_id != product.id or target.id == status.id:
                raise Invalid({"move_to": [_("Name another status of the same product.")]})
        moved = move_cards(session, actor, status, target)
        if moved is None:
            raise Conflict(
                _("Cards are in this status; give ?move_to={status_id} to move them first.")
            )
        product.statuses.remove(status)
        _renumber(product, status.group)
        touch(product)
        session.flush()
        record_event(session, EventType.PRODUCT_UPDATED, product_data(product), actor=actor)


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
