"""Every table of the notifications database, for Alembic and tests."""

from .access import ProductMember
from .db import Base
from .deliveries.models import Delivery, Notification
from .feed import FeedCursor, WorkerState
from .inbox.models import InboxItem
from .known_cards import KnownCard
from .preferences.models import Preferences
from .reminders.models import Reminder

__all__ = [
    "Base",
    "Delivery",
    "FeedCursor",
    "InboxItem",
    "KnownCard",
    "Notification",
    "Preferences",
    "ProductMember",
    "Reminder",
    "WorkerState",
]
