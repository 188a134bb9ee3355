"""Tasks and their postponements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from cardcrm.core.base import Base
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..cards.models import Card

TASK_STATUSES = ("open", "done", "cancelled")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_card_id_status_due", "card_id", "status", "due"),
        # The Today view: a user's open tasks by deadline, with everything its totals and
        # page look at (the card: a member limited to own cards), so that counting thousands
        # of tasks reads the index alone (migration 0021).
        Index(
            "ix_tasks_assignee_id_status_due",
            "assignee_id",
            "status",
            "due",
            "id",
            "card_trashed",
            "product_id",
            "all_day",
            "due_date",
            "card_id",
        ),
        # The tasks a user closed in a period (Today's "closed"), with what it filters on.
        Index(
            "ix_tasks_closed_by_id_closed_at",
            "closed_by_id",
            "closed_at",
            "assignee_id",
            "status",
            "card_trashed",
            "product_id",
            "card_id",
        ),
        # The reports, for everyone at once: tasks done in a period, open tasks past their
        # deadline; with what they filter and group by, so the table is not read.
        Index(
            "ix_tasks_status_closed_at",
            "status",
            "closed_at",
            "closed_by_id",
            "product_id",
            "card_trashed",
        ),
        Index(
            "ix_tasks_status_due",
            "status",
            "due",
            "assignee_id",
            "product_id",
            "card_trashed",
            "all_day",
            "due_date",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(2000))
    type: Mapped[str] = mapped_column(String(64), default="todo")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The deadline as an instant; for all-day tasks the start of ``due_date`` in the
    #: assignee's time zone, so that all tasks sort together.
    due: Mapped[datetime]
    all_day: Mapped[bool] = mapped_column(default=False)
    #: The calendar date of an all-day task (``None`` for timed tasks).
    due_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    postponed_count: Mapped[int] = mapped_column(default=0)
    #: The card is in the trash: its tasks count nowhere (kept with the trash and restore).
    card_trashed: Mapped[bool] = mapped_column(default=False)
    #: Recurrence: ``{"freq", "interval", "weekdays"?}``; closing creates the next occurrence.
    repeat: Mapped[dict[str, Any] | None] = mapped_column()
    #: The first occurrence of a recurring series (``None`` for the first itself).
    series_id: Mapped[int | None] = mapped_column(index=True)
    #: The deadline this occurrence had in its series, before any postponement.
    series_due: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    card: Mapped[Card] = relationship()

    __mapper_args__ = {"version_id_col": version}


class Postponement(Base):
    """A task moved to a later deadline: kept for the Today view's ``postponed`` total."""

    __tablename__ = "task_postponements"
    __table_args__ = (Index("ix_task_postponements_assignee_id_at", "assignee_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    before: Mapped[datetime]
    after: Mapped[datetime]
