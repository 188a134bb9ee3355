"""Every table of the notifications database, for Alembic and tests."""

from typing import Any

from cardcrm.common.idempotency import idempotency_model

from .access import ProductMember
from .db import Base
from .deliveries.models import Delivery, Notification
from .events import EventCursor, WorkerState
from .inbox.models import InboxItem
from .known_cards import KnownCard
from .preferences.models import Preferences
from .reminders.models import Reminder

#: Keys of retried POSTs (``Idempotency-Key``), kept in this service's database.
IdempotencyKey: Any = idempotency_model(Base)

__all__ = [
    "Base",
    "Delivery",
    "EventCursor",
    "IdempotencyKey",
    "InboxItem",
    "KnownCard",
    "Notification",
    "Preferences",
    "ProductMember",
    "Reminder",
    "WorkerState",
]
