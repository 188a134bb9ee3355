"""What a notification channel is: the base class plugins subclass, and its failures.

A channel has a ``name`` and decides, from a user's preferences, whether and where that user
gets notifications (``address``). A *remote* channel ``send``s a message over the network; the
sender marks the delivery ``sending`` before and ``sent`` after, so a crash in between is sent
again (at least once). A *local* channel (``local = True``, like the in-app inbox) ``store``s
the message in the service's own database in the transaction that marks it sent: exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..preferences.effective import UserPreferences


class DeliveryError(Exception):
    """An attempt to deliver failed; ``retry`` says whether trying again later may help."""

    retry: ClassVar[bool] = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        #: seconds the receiver asked us to wait (e.g. a ``Retry-After`` header)
        self.retry_after = retry_after


class TemporaryFailure(DeliveryError):
    """The receiver is down, slow or busy: retried with backoff, then dead-lettered."""


class PermanentFailure(DeliveryError):
    """The receiver refused the message for good (bad address, 4xx): dead-lettered at once."""

    retry = False


@dataclass(frozen=True)
class Content:
    """What a notification says, composed for people: a one-line title, text, HTML, a link."""

    title: str
    text: str
    html: str
    url: str | None = None


@dataclass(frozen=True)
class Message:
    """One delivery to make: what to say, to whom, and the event behind it."""

    delivery_id: int
    notification_id: int
    user_id: int
    rule: str
    channel: str
    #: stable and unique per delivery (user, rule, cause, channel): a receiver's dedup key
    key: str
    #: where the user gets it on this channel (``Channel.address``)
    address: str
    content: Content
    #: the event as webhooks receive it: ``{"id", "seq", "type", "at", "actor_id", "data", "rule"}``
    event: dict[str, Any]
    at: datetime
    card_id: int | None
    preferences: UserPreferences


class Channel:
    """Base class of notification channels; subclass it and return instances from the
    ``cardcrm_notification_channels`` hook."""

    #: unique name, stored in the delivery log (``"email"``, ``"webhook"``, ``"slack"``)
    name: ClassVar[str] = ""
    #: for people (the web UI's settings page)
    label: ClassVar[str] = ""
    #: delivers by writing the service's own database (see the module's docstring)
    local: ClassVar[bool] = False
    #: attempts before dead-lettering; ``None``: the service's DELIVERY_MAX_ATTEMPTS
    max_attempts: ClassVar[int | None] = None

    def unavailable(self) -> str | None:
        """Why this server cannot use the channel at all (deliveries are then ``skipped``
        with this reason), or ``None`` when it can."""
        return None

    def address(self, preferences: UserPreferences) -> str | None:
        """Where the user gets notifications on this channel, or ``None`` if they do not.

        The default: the user gave settings for this channel (``"channels": {name: {...}}``
        in their preferences); the address is then the channel's name.
        """
        return self.name if self.name in preferences.channels else None

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Check a user's settings for this channel; return them cleaned, or raise
        ``ValueError`` with a message for the user (answered as 422)."""
        raise ValueError(f"The {self.label or self.name} channel takes no settings here.")

    def destination(self, message: Message) -> str:
        """Where ``message`` goes, as far as waiting is concerned: deliveries to one
        destination share one sending slot and one backoff (``deliveries.destinations``), so
        a slow or failing one holds up only itself. The default: the whole channel (one
        server behind it); a channel sending to many receivers names the receiver."""
        return self.name

    def send(self, message: Message) -> None:
        """Deliver ``message`` (remote channels); raise a ``DeliveryError`` when it fails."""
        raise NotImplementedError

    def store(self, session: Session, message: Message) -> None:
        """Deliver ``message`` by writing with ``session`` (local channels)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (called when the worker stops)."""
