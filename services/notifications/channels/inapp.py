"""The in-app inbox channel: every user has it; the web UI reads ``/api/v1/inbox``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..hookspecs import hookimpl
from ..inbox.models import InboxItem
from .base import Channel, Message

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..preferences.effective import UserPreferences


class InAppChannel(Channel):
    name = "inapp"
    label = "In-app inbox"
    local = True

    def address(self, preferences: UserPreferences) -> str | None:
        return "inbox"

    def store(self, session: Session, message: Message) -> None:
        content = message.content
        session.add(
            InboxItem(
                user_id=message.user_id,
                notification_id=message.notification_id,
                rule=message.rule,
                type=str(message.event.get("type", "")),
                title=content.title[:500],
                text=content.text,
                url=content.url,
                card_id=message.card_id,
                event_id=event_seq(message.event),
                at=message.at,
            )
        )


def event_seq(event: dict[str, Any]) -> int | None:
    """Core's integer id of the event (``seq``; ``id`` in payloads recorded before the
    ``uid``), ``None`` for a notification no event caused (a reminder, a digest)."""
    for key in ("seq", "id"):
        if isinstance(event.get(key), int):
            return int(event[key])
    return None


@hookimpl
def cardcrm_notification_channels(settings: dict[str, Any]) -> list[Channel]:
    return [InAppChannel()]
