"""Reads the web pages need that no service function offers yet (kept small and read-only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..cards.models import Card
from ..products.models import Product, Status
from ..tasks.models import Task

#: Pickers list at most this many users; a team bigger than this needs a search box instead.
MAX_USERS = 500


#: Users' names by id; nobody (``None``) has none, so looking it up gives the default.
UserNames = dict[int | None, str]


def user_names(users: Iterable[User]) -> UserNames:
    return {user.id: user.name for user in users}


def all_users(session: Session) -> list[User]:
    """The users for owner and assignee pickers, by name."""
    return list(session.scalars(select(User).order_by(User.name, User.id).limit(MAX_USERS)))


def task_texts(session: Session, task_ids: Iterable[int]) -> dict[int, str]:
    ids = {task_id for task_id in task_ids if task_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(Task.id, Task.text).where(Task.id.in_(ids)))
    return {key: value for key, value in rows}


def cards_with_context(session: Session, card_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Title, product and status of some cards, in one query (for lists across products)."""
    ids = set(card_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Card.id, Card.title, Product.id, Product.name, Status.name, Status.group)
        .join(Product, Product.id == Card.product_id)
        .join(Status, Status.id == Card.status_id)
        .where(Card.id.in_(ids))
    )
    return {
        card_id: {
            "title": title,
            "product": {"id": product_id, "name": product_name},
            "status": {"name": status_name, "group": group},
        }
        for card_id, title, product_id, product_name, status_name, group in rows
    }
