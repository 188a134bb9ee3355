"""What the CalDAV writes remember in the calendar service's database (``writes.py``).

- ``DavInbox``: each user's inbox card, where the to-dos and events they make in a calendar
  app become tasks;
- ``DavObject``: per task, the UID a calendar app gave the object it made (cardcrm's own form,
  ``task-<id>@<domain>``, is never stored), and the card note its DESCRIPTION wrote.
"""

from __future__ import annotations

from datetime import datetime

from cardcrm.common.timeutil import utcnow
from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class DavInbox(Base):
    __tablename__ = "dav_inboxes"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    card_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DavObject(Base):
    __tablename__ = "dav_objects"
    __table_args__ = (Index("ix_dav_objects_user_id_uid", "user_id", "uid", unique=True),)

    task_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: The user whose calendar made the object (or wrote its note).
    user_id: Mapped[int]
    #: The client's UID of an object made in a calendar app (``None``: cardcrm's own form).
    uid: Mapped[str | None] = mapped_column(String(255))
    #: The card note the object's DESCRIPTION wrote, and its body then.
    note_id: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
