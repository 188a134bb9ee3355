"""Who may see what: admins see everything; other users see the products they are members of.

A membership may be limited to "own cards": the cards the user owns plus the cards nobody owns.
Everything that shows cards asks here, so the rule holds in one place: card lists and pages,
tasks, the Today view, the wall, favourites, recent cards, contacts' cards and exports.
A card the caller may not see is answered as not found (404), so nothing leaks its existence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cardcrm.common.errors import NotFound
from cardcrm.common.translate import gettext as _
from sqlalchemy import and_, exists, false, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from .auth.models import User
from .cards.models import Card
from .products.models import Membership
from .tasks.models import Task

#: Products given wholly or limited to own cards: how a set of them reaches the rule (ids, or
#: a subquery of ``product_members`` read by the statement itself).
ProductSet = Any


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
        return self._condition(card.product_id, lambda: self.owns(card))

    def tasks_condition(self) -> ColumnElement[bool] | None:
        """A WHERE condition on Task: tasks of the cards in sight; None: no limit.

        Whole products are told by the task's own ``product_id`` (an index serves it without
        the card); a limited product asks its card's owner.
        """
        if self.everything:
            return None
        return _tasks_rule(self.user_id, self.products or None, self.own_cards_products or None)

    def owns(self, card: Any = Card) -> ColumnElement[bool]:
        """``card`` (the entity or an alias) is the user's own or nobody's."""
        return _owns(card, self.user_id)

    def _condition(
        self, product_id: Any, owned: Callable[[], ColumnElement[bool]]
    ) -> ColumnElement[bool] | None:
        if self.everything:
            return None
        return _rule(product_id, self.products or None, self.own_cards_products or None, owned)


def _owns(card: Any, user_id: Any) -> ColumnElement[bool]:
    """``card`` is the user's (an id or a bind parameter) or nobody's."""
    return or_(card.owner_id == user_id, card.owner_id.is_(None))


def _rule(
    product_id: Any,
    whole: ProductSet | None,
    limited: ProductSet | None,
    owned: Callable[[], ColumnElement[bool]],
) -> ColumnElement[bool]:
    """The one rule: a product given wholly, or a limited one and a card the user owns."""
    parts = _rule_parts(product_id, whole, limited, owned)
    return or_(*parts) if parts else false()


def _rule_parts(
    product_id: Any,
    whole: ProductSet | None,
    limited: ProductSet | None,
    owned: Callable[[], ColumnElement[bool]],
) -> list[ColumnElement[bool]]:
    """The rule's two disjoint parts (a user's product is either whole or limited)."""
    parts = []
    if whole is not None:
        parts.append(product_id.in_(whole))
    if limited is not None:
        parts.append(and_(product_id.in_(limited), owned()))
    return parts


def _tasks_rule(
    user_id: Any, whole: ProductSet | None, limited: ProductSet | None
) -> ColumnElement[bool]:
    parts = _tasks_rule_parts(user_id, whole, limited)
    return or_(*parts) if parts else false()


def _tasks_rule_parts(
    user_id: Any, whole: ProductSet | None, limited: ProductSet | None
) -> list[ColumnElement[bool]]:
    def owned() -> ColumnElement[bool]:
        # Two EXISTS, not one with ``owner = :user OR owner IS NULL``: where PostgreSQL hashes
        # the cards instead of probing them task by task, each is then one range of the owner
        # index; the OR in one made it read every card of every product (8 ms of a limited
        # member's Today view at 100,000 cards).
        mine, nobodys = aliased(Card), aliased(Card)  # own names: a task query may join Card
        return or_(
            exists().where(mine.id == Task.card_id, mine.owner_id == user_id),
            exists().where(nobodys.id == Task.card_id, nobodys.owner_id.is_(None)),
        )

    return _rule_parts(Task.product_id, whole, limited, owned)


def tasks_in_sight_parts(user_id: Any) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """``Scope.tasks_condition`` of a user who is not an admin, with the memberships read by
    the statement itself: ``user_id`` is a bind parameter (or a column), so a statement built
    once serves every member and a request saves ``scope_of``'s own query (the Today view).
    Admins see everything: leave the condition out for them (``user.is_admin``).

    Two disjoint parts: tasks of whole products, and tasks of limited products on cards the
    user owns. The second asks first, in a subquery of its own, whether the user has a limited
    product at all: PostgreSQL evaluates it once and skips that part's scan when not, so a
    count over the first part alone stays an index-only scan (the owner needs ``card_id``,
    which the task indexes do not hold).
    """
    members = Membership.__table__.c

    def products(limited: bool) -> Any:
        return select(members.product_id).where(
            members.user_id == user_id, members.own_cards_only.is_(limited)
        )

    whole, limited = _tasks_rule_parts(user_id, products(False), products(True))
    return whole, and_(exists(products(True)), limited)


def tasks_in_sight(user_id: Any) -> ColumnElement[bool]:
    """``tasks_in_sight_parts`` as one condition."""
    return or_(*tasks_in_sight_parts(user_id))


SCOPES = "cardcrm_scopes"


def scope_of(session: Session, user: User | None) -> Scope:
    """What ``user`` may see; read once per session (a request) and kept in ``session.info``."""
    if user is None or user.is_admin:
        return whole_scope(user)
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


def whole_scope(user: User | None) -> Scope:
    """The sight of an admin, or of no user (a service): everything."""
    return Scope(user_id=user.id if user else 0, everything=True)


def remember_scope(session: Session, scope: Scope) -> None:
    """Let ``scope_of`` answer ``scope`` for its user in this session without a query: the
    token check reads the memberships with the token (``auth.service._TOKEN_QUERY``)."""
    session.info.setdefault(SCOPES, {})[scope.user_id] = scope


def visible_cards_condition(session: Session, user: User | None) -> ColumnElement[bool] | None:
    return scope_of(session, user).cards_condition()


def check_product(session: Session, user: User | None, product_id: int) -> Scope:
    scope = scope_of(session, user)
    if not scope.sees_product(product_id):
        raise NotFound(_("No product %(id)s.", id=product_id))
    return scope


def check_card(session: Session, user: User | None, card: Card) -> None:
    if not scope_of(session, user).sees_card(card):
        raise NotFound(_("No card %(id)s.", id=card.id))


def forget_scopes(session: Session) -> None:
    """Drop the scopes read in ``session``: the memberships are about to change."""
    session.info.pop(SCOPES, None)
