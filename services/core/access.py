"""Who may see what: admins see everything; other users see the products they are members of.

A membership may be limited to "own cards": the cards the user owns plus the cards nobody owns.
Everything that shows cards asks here, so the rule holds in one place: card lists and pages,
tasks, the Today view, the wall, favourites, recent cards, contacts' cards and exports.
A card the caller may not see is answered as not found (404), so nothing leaks its existence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cardcrm.common.errors import NotFound
from cardcrm.core.base import Base
from sqlalchemy import ForeignKey, and_, false, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from .auth.models import User
from .cards.models import Card


class Membership(Base):
    __tablename__ = "product_members"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    own_cards_only: Mapped[bool] = mapped_column(default=False)


@dataclass(frozen=True)
class Scope:
    """What one user may see: everything (admins), or whole products and limited products."""

    user_id: int
    everything: bool = False
    products: frozenset[int] = field(default_factory=frozenset)
    own_cards_products: frozenset[int] = field(default_factory=frozenset)

    @property
    def product_ids(self) -> frozenset[int]:
        return self.products | self.own_cards_products

    def sees_product(self, product_id: int) -> bool:
        return self.everything or product_id in self.product_ids

    def sees_card(self, card: Card) -> bool:
        if self.everything or card.product_id in self.products:
            return True
        return card.product_id in self.own_cards_products and card.owner_id in (None, self.user_id)

    def cards_condition(self, card: Any = Card) -> ColumnElement[bool] | None:
        """A WHERE condition on ``card`` (the Card entity or an alias); None: no limit."""
        if self.everything:
            return None
        parts = []
        if self.products:
            parts.append(card.product_id.in_(self.products))
        if self.own_cards_products:
            parts.append(
                and_(
                    card.product_id.in_(self.own_cards_products),
                    or_(card.owner_id == self.user_id, card.owner_id.is_(None)),
                )
            )
        return or_(*parts) if parts else false()


SCOPES = "cardcrm_scopes"


def scope_of(session: Session, user: User | None) -> Scope:
    """What ``user`` may see; read once per session (a request) and kept in ``session.info``."""
    if user is None or user.is_admin:
        return Scope(user_id=user.id if user else 0, everything=True)
    cache = session.info.setdefault(SCOPES, {})
    if user.id not in cache:
        rows = session.execute(
            select(Membership.product_id, Membership.own_cards_only).where(
                Membership.user_id == user.id
            )
        ).all()
        cache[user.id] = Scope(
            user_id=user.id,
            products=frozenset(pid for pid, limited in rows if not limited),
            own_cards_products=frozenset(pid for pid, limited in rows if limited),
        )
    return cache[user.id]


def visible_cards_condition(session: Session, user: User | None) -> ColumnElement[bool] | None:
    return scope_of(session, user).cards_condition()


def check_product(session: Session, user: User | None, product_id: int) -> Scope:
    scope = scope_of(session, user)
    if not scope.sees_product(product_id):
        raise NotFound(f"No product {product_id}.")
    return scope


def check_card(session: Session, user: User | None, card: Card) -> None:
    if not scope_of(session, user).sees_card(card):
        raise NotFound(f"No card {card.id}.")


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
    from cardcrm.common.db import write_transaction
    from cardcrm.common.errors import Invalid
    from cardcrm.common.events import EventType
    from sqlalchemy import delete

    from .events import record_event
    from .products.service import get_product

    session.info.pop(SCOPES, None)
    with write_transaction(session):
        get_product(session, product_id)
        user_ids = [item["user_id"] for item in items]
        if len(user_ids) != len(set(user_ids)):
            raise Invalid({"items": ["Each user may appear once."]})
        known = set(session.scalars(select(User.id).where(User.id.in_(user_ids))))
        missing = sorted(set(user_ids) - known)
        if missing:
            raise Invalid({"items": [f"No user {', '.join(map(str, missing))}."]})
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
