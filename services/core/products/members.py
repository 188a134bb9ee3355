"""A product's members: who may see its cards (the rule itself is ``cardcrm.core.access``)."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Invalid
from cardcrm.common.events import EventType
from cardcrm.common.translate import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..access import forget_scopes
from ..auth.models import User
from ..events import record_event
from .models import Membership
from .service import get_product


def members(session: Session, product_id: int) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership)
            .where(Membership.product_id == product_id)
            .order_by(Membership.user_id)
        )
    )


def set_members(session: Session, product_id: int, items: list[dict[str, Any]]) -> list[Membership]:
    """Replace a product's members (``[{"user_id", "own_cards_only"}]``)."""
    forget_scopes(session)
    with write_transaction(session):
        get_product(session, product_id)
        user_ids = [item["user_id"] for item in items]
        if len(user_ids) != len(set(user_ids)):
            raise Invalid({"items": [_("Each user may appear once.")]})
        known = set(session.scalars(select(User.id).where(User.id.in_(user_ids))))
        missing = sorted(set(user_ids) - known)
        if missing:
            raise Invalid({"items": [_("No user %(ids)s.", ids=", ".join(map(str, missing)))]})
        session.execute(delete(Membership).where(Membership.product_id == product_id))
        session.add_all(
            Membership(
                product_id=product_id,
                user_id=item["user_id"],
                own_cards_only=item.get("own_cards_only", False),
            )
            for item in items
        )
        session.flush()
        # Sidecars keep who may see what in step (calendar feeds, notifications).
        record_event(
            session,
            EventType.PRODUCT_MEMBERS_CHANGED,
            {
                "id": product_id,
                "members": [member_data(row) for row in members(session, product_id)],
            },
        )
    return members(session, product_id)


def member_data(row: Membership) -> dict[str, Any]:
    return {"user_id": row.user_id, "own_cards_only": row.own_cards_only}
