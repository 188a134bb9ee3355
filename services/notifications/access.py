"""Who may see which card, as core's access rules say, kept in step from the feed.

Admins see every card; other users the products they are members of, and with "own cards
only" just the cards they own or nobody owns (core's ``cardcrm.core.access``). Memberships
come with each ``product.members_changed`` event (the product's whole list); whether a user
is an admin is asked of core (``/me`` acting for them, cached) only for non-members. The rule
and the table are the sidecars' shared ones (``cardcrm.sidecar.access``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cardcrm.sidecar import access as shared
from cardcrm.sidecar.access import CardRef
from sqlalchemy.orm import Session

from .db import Base

__all__ = ["CardRef", "ProductMember", "may_see", "track"]


class ProductMember(shared.MembershipColumns, Base):
    """Who may see which card besides admins: the products' members, from core's events."""


def track(session: Session, event: dict[str, Any]) -> None:
    """Keep the memberships of the event's product."""
    shared.track(session, ProductMember, event)


def may_see(session: Session, user_id: int, card: CardRef, is_admin: Callable[[int], bool]) -> bool:
    """Whether ``user_id`` may see ``card``: the same rule as core's ``Scope.sees_card``."""
    return shared.may_see(session, ProductMember, user_id, card, is_admin)
