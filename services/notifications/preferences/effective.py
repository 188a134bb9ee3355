"""A user's preferences in effect, as one value: what channels and rules decide from.

A leaf (no database, no service code): ``channels.base`` hands it to every channel, so the
module plugin authors import must not pull in how preferences are read or saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class UserPreferences:
    """A user's preferences in effect (the defaults when they saved none), secret in clear."""

    user_id: int
    #: the address the user chose for notification e-mails
    email: str | None = None
    #: whether ``email`` is proven theirs (see ``preferences.verification``); e-mail goes to
    #: an unverified address never: the dispatcher sends to the account's own one instead
    email_verified: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = None
    assigned: bool = True
    due_reminder_minutes: int | None = None
    daily_digest_at: str | None = None
    status_changes: bool = True
    mentioned: bool = True
    channels: dict[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"
    next_digest_at: datetime | None = None
    #: whether the user saved preferences (else these are the defaults)
    saved: bool = False

    def wants(self, rule: str) -> bool:
        """Whether the user switched ``rule`` on."""
        if rule == "assigned":
            return self.assigned
        if rule == "status_changed":
            return self.status_changes
        if rule == "mentioned":
            return self.mentioned
        if rule == "due_reminder":
            return self.due_reminder_minutes is not None
        if rule == "daily_digest":
            return self.daily_digest_at is not None
        return True  # rules without a switch (a test message the user asked for)
