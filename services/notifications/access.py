"""Who may see which card, as core's access rules say, kept in step from the feed.

Admins see every card; other users the products they are members of, and with "own cards
only" just the cards they own or nobody owns (core's ``cardcrm.core.access``). Memberships
come with each ``product.members_changed`` event (the product's whole list); whether a user
is an admin is asked of core (``/me`` acting for them, cached) only for non-members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base


class ProductMember(Base):
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


def track(session: Session, event: dict[str, Any]) -> None:
    """Keep the memberships of the event's product."""
    kind, data = event["type"], event["data"]
    if kind == "product.members_changed":
        rows = [
            ProductMember(
                product_id=data["id"],
                user_id=member["user_id"],
                own_cards_only=bool(member.get("own_cards_only")),
            )
            for member in data.get("members") or []
        ]
        session.execute(delete(ProductMember).where(ProductMember.product_id == data["id"]))
        session.add_all(rows)
        session.flush()
    elif kind == "product.deleted":
        session.execute(delete(ProductMember).where(ProductMember.product_id == data["id"]))


def may_see(session: Session, user_id: int, card: CardRef, is_admin: Callable[[int], bool]) -> bool:
    """Whether ``user_id`` may see ``card``: the same rule as core's ``Scope.sees_card``."""
    membership = session.scalar(
        select(ProductMember.own_cards_only).where(
            ProductMember.product_id == card.product_id, ProductMember.user_id == user_id
        )
    )
    if membership is False:  # a member of the whole product
        return True
    if membership is True and card.owner_id in (None, user_id):
        return True
    return is_admin(user_id)
