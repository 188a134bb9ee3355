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
                event_id=message.event["id"] if isinstance(message.event.get("id"), int) else None,
                at=message.at,
            )
        )


@hookimpl
def cardcrm_notification_channels(settings: dict[str, Any]) -> list[Channel]:
    return [InAppChannel()]
