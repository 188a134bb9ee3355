"""Core's access rule, kept by a sidecar from the event feed: who may see which card.

Admins see every card; other users the products they are members of, and a membership with
"own cards only" just the cards the user owns or nobody owns (core's ``cardcrm.core.access``).
Core sends a product's whole member list with each ``product.members_changed`` event and
``product.deleted`` when it goes; ``track`` keeps them in the sidecar's ``product_members``
table. Whether a user is an admin is no event: sidecars ask core (``CoreClient.user``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cardcrm.common.events import EventType
from sqlalchemy import delete, exists, or_, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

#: The events ``track`` applies.
MEMBERSHIP_EVENTS = (EventType.PRODUCT_MEMBERS_CHANGED, EventType.PRODUCT_DELETED)
#: The owner of a card whose events were never seen: nobody's id, so "someone else's" (out of
#: sight of members limited to their own cards) rather than "nobody's" (in their sight).
UNKNOWN_OWNER = 0


class MembershipColumns:
    """The ``product_members`` table, declared by a sidecar on its own base:
    ``class ProductMember(MembershipColumns, Base)``."""

    __tablename__ = "product_members"

    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, index=True)
    own_cards_only: Mapped[bool] = mapped_column(default=False)


@dataclass(frozen=True)
class CardRef:
    """A card as access needs it."""

    id: int
    product_id: int
    owner_id: int | None


def track(session: Session, model: Any, event: dict[str, Any]) -> set[int]:
    """Keep the memberships of the event's product; returns the users whose access to it
    changed (added, removed, or limited/unlimited), empty for any other event."""
    kind, data = event["type"], event.get("data") or {}
    if kind not in MEMBERSHIP_EVENTS:
        return set()
    product_id = data["id"]
    before: dict[int, bool] = dict(
        session.execute(
            select(model.user_id, model.own_cards_only).where(model.product_id == product_id)
        ).all()
    )
    after: dict[int, bool] = {}
    if kind == EventType.PRODUCT_MEMBERS_CHANGED:
        for member in data.get("members") or []:
            after[member["user_id"]] = bool(member.get("own_cards_only"))
    session.execute(delete(model).where(model.product_id == product_id))
    session.add_all(
        model(product_id=product_id, user_id=user_id, own_cards_only=limited)
        for user_id, limited in after.items()
    )
    session.flush()
    return {user for user in before.keys() | after.keys() if before.get(user) != after.get(user)}


def may_see_condition(
    model: Any, user_id: int, product_id: Any, owner_id: Any, *, admin: bool = False
) -> ColumnElement[bool]:
    """A WHERE condition: ``user_id`` may see the card whose product and owner are the columns
    ``product_id`` and ``owner_id`` (of the query's card table)."""
    if admin:
        return true()
    return exists().where(
        model.product_id == product_id,
        model.user_id == user_id,
        or_(model.own_cards_only.is_(False), owner_id.is_(None), owner_id == user_id),
    )


def may_see(
    session: Session, model: Any, user_id: int, card: CardRef, is_admin: Callable[[int], bool]
) -> bool:
    """Whether ``user_id`` may see ``card`` (core's ``Scope.sees_card``); ``is_admin`` is asked
    only when memberships do not decide."""
    membership = session.scalar(
        select(model.own_cards_only).where(
            model.product_id == card.product_id, model.user_id == user_id
        )
    )
    if membership is False:  # a member of the whole product
        return True
    if membership is True and card.owner_id in (None, user_id):
        return True
    return is_admin(user_id)
