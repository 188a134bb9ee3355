"""The SMTP side: refuse at RCPT what core does not know, answer 250 only once core has filed.

Every answer comes from core: an address that is no live card's is refused with ``550 5.1.1``
at RCPT; a core that cannot be reached, or fails, gets ``451`` (the sending server tries
again later), so a message is never accepted and then lost. The size limit is aiosmtpd's
``data_size_limit``, advertised as ``SIZE`` in EHLO (``552`` beyond it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cardcrm.sidecar.core_client import CoreClient, CoreUnavailable

log = logging.getLogger(__name__)

#: At most this many recipients per message (RFC 5321 asks servers to take 100).
MAX_RECIPIENTS = 100
#: How long one call to core may take before the sender is told to try again.
CORE_TIMEOUT = 30.0

UNKNOWN = "550 5.1.1 No such card address here"
TRY_LATER = "451 4.3.0 Cannot reach the CRM now; try again later"
TOO_MANY = "452 4.5.3 Too many recipients"
TOO_LARGE = "552 5.3.4 Message too big"
ACCEPTED = "250 2.0.0 Filed on the card"


class CardMailHandler:
    """aiosmtpd's handler: its hooks ask core (in a thread, not to block the loop)."""

    def __init__(self, core: CoreClient) -> None:
        self.core = core

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return TOO_MANY
        try:
            known = await asyncio.get_running_loop().run_in_executor(
                None, self._is_card_address, address
            )
        except Exception:
            log.warning("could not ask core about %r", address, exc_info=True)
            return TRY_LATER
        if not known:
            return UNKNOWN
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, self._file, list(envelope.rcpt_tos), raw
            )
        except Exception:
            log.exception("filing a message failed")
            return TRY_LATER

    def _is_card_address(self, address: str) -> bool:
        """Core's answer: 200 a live card's, 404 not; anything else is core's trouble."""
        if not address or len(address) > 320 or "/" in address:
            return False
        response = self.core.request(
            "GET", "/api/v1/mail/recipients/" + quote(address, safe="@+"), self.core.service_token
        )
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise CoreUnavailable(f"core answered {response.status_code}", response.status_code)

    def _file(self, recipients: list[str], raw: bytes) -> str:
        response = self.core.request(
            "POST",
            "/api/v1/mail/messages",
            self.core.service_token,
            params={"recipient": recipients},
            data=raw,
            headers={"Content-Type": "message/rfc822"},
        )
        if response.status_code == 413:
            return TOO_LARGE
        if response.status_code != 200:
            log.error("core refused a message: %s %s", response.status_code, response.text[:300])
            return TRY_LATER
        delivered = response.json().get("delivered") or []
        return ACCEPTED if delivered else UNKNOWN


class MailReceiver:
    """The SMTP server on ``host:port``, in a thread of its own; ``stop`` ends it."""

    def __init__(self, settings: dict[str, Any]) -> None:
        host, port = settings["LISTEN"]
        self.core = CoreClient(settings["CORE_URL"], settings["SERVICE_TOKEN"], CORE_TIMEOUT)
        self.controller = Controller(
            CardMailHandler(self.core),
            hostname=host,
            port=port,
            data_size_limit=settings["MAX_BYTES"],
            ident="cardcrm mail receiver",
            enable_SMTPUTF8=True,
        )
        self._lock = threading.Lock()
        self.running = False

    @property
    def address(self) -> tuple[str, int]:
        return self.controller.hostname, self.controller.port

    def start(self) -> None:
        with self._lock:
            self.controller.start()
            self.running = True
        log.info("mail receiver listening on %s:%s", *self.address)

    def stop(self) -> None:
        with self._lock:
            if not self.running:
                return
            self.running = False
            try:
                self.controller.stop()
            finally:
                self.core.close()


def run(settings: dict[str, Any], stop: threading.Event) -> None:
    """Receive mail until ``stop`` is set."""
    receiver = MailReceiver(settings)
    receiver.start()
    try:
        stop.wait()
    finally:
        receiver.stop()
