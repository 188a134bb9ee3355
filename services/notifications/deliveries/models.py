"""Notifications (what to tell whom, once) and deliveries (on which channel, in which state).

A notification is unique per (user, rule, key), the key naming what caused it (a core event,
a task's deadline, a local date); a delivery is unique per (notification, channel). Together:
one row per (event, rule, channel, user), so handling a cause twice never sends twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base

ID = BigInteger().with_variant(Integer, "sqlite")

#: pending → sending → sent; a failed attempt goes back to `retrying` until the last one,
#: which makes it `dead`; `skipped` when the channel cannot be used (e.g. no SMTP server).
STATES = ("pending", "sending", "retrying", "sent", "dead", "skipped")
#: The states a sender picks up (a `sending` row only once its lease has run out).
DUE_STATES = ("pending", "retrying", "sending")


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "rule", "key"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column()
    rule: Mapped[str] = mapped_column(String(32))
    #: what caused it: ``event:<id>``, ``reminder:<task>:<deadline>``, ``digest:<date>``
    key: Mapped[str] = mapped_column(String(200))
    #: the core event behind it, if one is
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column()
    card_id: Mapped[int | None] = mapped_column()
    #: the event as webhooks receive it: ``{"id", "seq", "type", "at", "actor_id", "data", "rule"}``
    payload: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(
        ID, ForeignKey("notifications.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column()
    channel: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    #: when a sender may pick it up: the next retry, or the end of a `sending` lease
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

    notification: Mapped[Notification] = relationship(lazy="joined", innerjoin=True)
