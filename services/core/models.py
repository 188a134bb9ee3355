"""Every table of the core service, imported in one place for migrations and tests."""

from cardcrm.core.base import Base

from .auth.models import ApiToken, LoginFailure, User, WebSession
from .base import IdempotencyKey
from .cards.models import Card, CardHistory
from .contacts.models import CardContact, Contact, ContactHistory, ContactIdentifier
from .events import DatabaseIncarnation, Event
from .files.models import CardFile
from .mail.models import CardEmail
from .notes.models import Note
from .products.models import Membership, Product, Status
from .quick_access.models import Favorite, RecentCard
from .tasks.models import Postponement, Task

__all__ = [
    "ApiToken",
    "Base",
    "Card",
    "CardContact",
    "CardEmail",
    "CardFile",
    "Contact",
    "ContactHistory",
    "ContactIdentifier",
    "CardHistory",
    "DatabaseIncarnation",
    "Event",
    "Favorite",
    "IdempotencyKey",
    "LoginFailure",
    "Membership",
    "Note",
    "Postponement",
    "Product",
    "RecentCard",
    "Status",
    "Task",
    "User",
    "WebSession",
]
