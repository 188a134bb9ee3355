"""Every table of the notifications database, for Alembic and tests."""

from cardcrm.common.idempotency import IdempotencyKeyColumns

from .access import ProductMember
from .db import Base
from .deliveries.models import Delivery, Notification
from .events import EventCursor, WorkerState
from .inbox.models import InboxItem
from .known_cards import KnownCard
from .preferences.models import EmailVerification, Preferences
from .reminders.models import Reminder


class IdempotencyKey(IdempotencyKeyColumns, Base):
    """Keys of retried POSTs (``Idempotency-Key``), kept in this service's database."""


__all__ = [
    "Base",
    "Delivery",
    "EmailVerification",
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
