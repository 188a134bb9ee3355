"""One row per task seen in the feed: its deadline, assignee and state, and when to remind."""

from __future__ import annotations

from datetime import datetime

from cardcrm.common.timeutil import utcnow
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Reminder(Base):
    __tablename__ = "reminders"

    task_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    card_id: Mapped[int] = mapped_column(index=True)
    product_id: Mapped[int] = mapped_column(index=True)
    assignee_id: Mapped[int | None] = mapped_column(index=True)
    text: Mapped[str] = mapped_column(Text)
    due: Mapped[datetime] = mapped_column()
    all_day: Mapped[bool] = mapped_column(default=False)
    #: open, done, cancelled or deleted
    task_status: Mapped[str] = mapped_column(String(16))
    card_trashed: Mapped[bool] = mapped_column(default=False)
    #: the recurrence of the task's series (JSON text), to tell a series' next occurrence
    series: Mapped[str | None] = mapped_column(Text)
    #: when to remind; NULL when no reminder is due (closed, no preference, already sent)
    remind_at: Mapped[datetime | None] = mapped_column(index=True)
    #: the deadline and user the last reminder was for: one reminder per deadline and user
    reminded_due: Mapped[datetime | None] = mapped_column()
    reminded_user_id: Mapped[int | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
