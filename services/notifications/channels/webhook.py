"""The webhook channel: a signed ``POST`` of the event to the user's URL.

The body is the event as JSON (``{"id", "seq", "type", "at", "actor_id", "data", "rule"}``),
with ``X-Cardcrm-Event-Id`` (the same ``id``) and ``X-Cardcrm-Signature: sha256=<hex
HMAC-SHA256 of the raw body keyed with the user's webhook secret>``. A 2xx answer delivers;
timeouts, connection errors, 408, 425, 429 and 5xx are retried (honouring ``Retry-After``);
other answers are final, redirects included (a webhook is not followed elsewhere).

``id`` is the event's ``uid`` (a UUID, never reused, even after core is restored from a backup:
what receivers deduplicate on); ``seq`` is core's integer id of the event (the feed's cursor,
reused after a restore; absent for a reminder or digest, whose ``id`` names them).

The URL is the user's, so the request goes through the outbound guard
(``cardcrm.common.outbound``): an address it refuses (a private one, or one that resolves to
a private address by now) fails the delivery for good, "refused: private address", and nothing
connects. What ``last_error`` says of the receiver is its HTTP status at most ("the webhook
answered HTTP 500"), never its body or the network's error ("could not connect").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import niquests
from cardcrm.common.outbound import (
    COULD_NOT_CONNECT,
    OutboundPolicy,
    OutboundRefused,
)

from ..config import setting
from ..hookspecs import hookimpl
from .base import Channel, Message, PermanentFailure, TemporaryFailure

if TYPE_CHECKING:
    from ..preferences.effective import UserPreferences

log = logging.getLogger(__name__)

RETRIED_STATUSES = {408, 425, 429}
USER_AGENT = "cardcrm-notifications/1 (+webhooks)"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Cardcrm-Signature`` value of ``body``: how a receiver checks it too."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookChannel(Channel):
    name = "webhook"
    label = "Webhook"

    def __init__(self, timeout: float, outbound: OutboundPolicy | None = None) -> None:
        self.timeout = timeout
        self.outbound = outbound or OutboundPolicy()
        self._local = threading.local()

    def address(self, preferences: UserPreferences) -> str | None:
        return preferences.webhook_url

    def destination(self, message: Message) -> str:
        """The receiver's origin (scheme, host, port): one slow server holds up only itself."""
        parts = urlsplit(message.address)
        return f"{self.name}:{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"

    def send(self, message: Message) -> None:
        secret = message.preferences.webhook_secret
        if not secret:
            raise PermanentFailure("the webhook secret cannot be read; set a new one")
        body = body_of(message.event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Cardcrm-Event-Id": str(message.event["id"]),
            "X-Cardcrm-Signature": signature(secret, body),
            "X-Cardcrm-Delivery-Id": str(message.delivery_id),
        }
        try:
            response = self._http().post(
                message.address,
                data=body,
                headers=headers,
                timeout=(min(5.0, self.timeout), self.timeout),
                allow_redirects=False,
            )
        except OutboundRefused as refusal:
            raise PermanentFailure(refusal.rule) from None
        except niquests.RequestException as error:
            log.info("webhook of delivery %s: %s", message.delivery_id, error)
            raise TemporaryFailure(f"the webhook {COULD_NOT_CONNECT}") from None
        status = response.status_code or 0
        response.close()
        if 200 <= status < 300:
            return
        text = f"the webhook answered HTTP {status}"
        if status >= 500 or status in RETRIED_STATUSES:
            raise TemporaryFailure(text, retry_after=_retry_after(response))
        raise PermanentFailure(text)

    def _http(self) -> niquests.Session:
        # One session per sender thread: kept-alive connections, no sharing across threads.
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self.outbound.session()
        return session

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()


def _retry_after(response: niquests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


@hookimpl
def cardcrm_notification_channels(settings: dict[str, Any]) -> list[Channel]:
    return [
        WebhookChannel(
            float(setting(settings, "WEBHOOK_TIMEOUT_SECONDS")), OutboundPolicy.of(settings)
        )
    ]
