"""Reading the inbox and marking items read."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import NotFound
from cardcrm.common.timeutil import utcnow
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from .models import InboxItem


def list_items(
    session: Session, user_id: int, before: int | None, unread: bool | None, limit: int
) -> list[InboxItem]:
    """The user's items, newest first, older than the item ``before``."""
    query = select(InboxItem).where(InboxItem.user_id == user_id)
    if before is not None:
        query = query.where(InboxItem.id < before)
    if unread is not None:
        query = query.where(
            InboxItem.read_at.is_(None) if unread else InboxItem.read_at.is_not(None)
        )
    return list(session.scalars(query.order_by(InboxItem.id.desc()).limit(limit)))


def summary(session: Session, user_id: int) -> dict[str, int | None]:
    unread = session.scalar(
        select(func.count(InboxItem.id)).where(
            InboxItem.user_id == user_id, InboxItem.read_at.is_(None)
        )
    )
    latest = session.scalar(select(func.max(InboxItem.id)).where(InboxItem.user_id == user_id))
    return {"unread": unread or 0, "latest_id": latest}


def mark_read(
    session: Session, user_id: int, item_id: int, now: datetime | None = None
) -> InboxItem:
    with write_transaction(session):
        item = session.get(InboxItem, item_id)
        if item is None or item.user_id != user_id:
            raise NotFound(f"No inbox item {item_id}.")
        if item.read_at is None:
            item.read_at = now or utcnow()
    return item


def mark_all_read(session: Session, user_id: int, now: datetime | None = None) -> int:
    with write_transaction(session):
        # An UPDATE's result is a ``CursorResult`` (with ``rowcount``); ``execute`` is typed wider.
        result = cast(
            CursorResult[Any],
            session.execute(
                update(InboxItem)
                .where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None))
                .values(read_at=now or utcnow())
            ),
        )
    return result.rowcount
