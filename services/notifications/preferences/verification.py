"""Proving that a notification e-mail address is the user's before it gets anything.

Anyone may type any address into their preferences; without a check, cardcrm would mail
strangers on a user's word. So an address other than the account's own (core's, which the
caller's ``/me`` gives) stays *unverified* until its owner opens a link sent to it. Decided:

- **A link, not a code**: one click on whichever device reads the mail, with no login there
  (holding the token proves the mailbox). Opening it (GET) shows a page with a button; only
  the POST the button sends confirms, because mail scanners and link previews fetch every link
  a message holds.
- **Until confirmed, notification e-mails go to the account's own address** (asked of core
  when sent), not nowhere: nobody misses a reminder because a change is pending. The
  dispatcher hands the e-mail channel that address, and the channel refuses an unverified one.
- **Tokens**: 32 random bytes, only their SHA-256 kept; valid ``EMAIL_VERIFICATION_TTL_SECONDS``
  (24 hours) and once, and only while the address they were sent to is still the chosen one.
  Confirming proves the address, so the user's other links are used up with it.
- **At most one message per user per ``EMAIL_VERIFICATION_INTERVAL_SECONDS``** (a minute),
  whatever the address: saving yet another new address, or asking for the message again, is
  answered 429 with ``Retry-After`` (and changes nothing) until then. A message that could
  not be sent does not count.
- Saving the same address again sends nothing; the account's own address (compared without
  regard to case) needs no message; no address, no message.
- Without an SMTP server nothing can be sent: the address is saved unverified, and
  ``POST /api/v1/preferences/email/resend`` says why it cannot send (409).

The message is sent during the request that asks for it, on an SMTP connection of its own,
after the transaction recording it committed; how it went is kept on its row and shown in the
preferences (``email_verification_sent_at``, ``email_verification_error``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import (
    CardcrmError,
    Conflict,
    Invalid,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
)
from cardcrm.common.text import printable
from cardcrm.sidecar.speech import Speaker
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..channels.base import DeliveryError, PermanentFailure
from ..channels.email import EmailChannel
from ..config import setting
from ..messages import page
from .lookup import forget
from .models import EmailVerification, Preferences

if TYPE_CHECKING:
    from ..context import NotificationsContext
    from .effective import UserPreferences

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
#: The ``X-Cardcrm-Rule`` header of the message, as notifications carry their rule's name.
RULE = "email_verification"
#: Where the link leads, below the service's public URL.
LINK_PATH = "/verify/"


class Gone(CardcrmError):
    """A link that worked once but no longer does (used, expired, or for another address)."""

    status, title = 410, "Gone"


def same_address(first: str | None, second: str | None) -> bool:
    """Whether two addresses are one mailbox, as every mail system treats them: any case."""
    return first is not None and second is not None and first.casefold() == second.casefold()


def token_hash(token: str) -> str:
    # "replace": a path may carry anything, and any text must answer 404, not fail.
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Outgoing:
    """A message recorded in a transaction, to send once that transaction committed."""

    verification_id: int
    address: str
    token: str


class Verifier:
    """Verification of the notification addresses, for the requests of one app."""

    def __init__(
        self,
        channel: EmailChannel | None,
        base_url: str,
        ttl: timedelta = timedelta(hours=24),
        interval: timedelta = timedelta(minutes=1),
        speaker: Speaker | None = None,
    ) -> None:
        self.channel = channel
        #: the message is in its user's language (their profile's, else the default)
        self.speaker = speaker
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl
        self.interval = interval

    @classmethod
    def from_context(cls, context: NotificationsContext, base_url: str) -> Verifier:
        """``base_url``: the request's own root, used for the link only when this service has
        no ``PUBLIC_URL`` and the request came to a loopback host (a developer's machine): the
        ``Host`` header is the sender's to choose, and a link to a host of their choosing
        would hand them the token when a mail scanner opens it. Elsewhere, with no public
        URL, no link can be sent (``unavailable``)."""
        channel = context.channels.get(EmailChannel.name)
        settings = context.settings
        return cls(
            channel if isinstance(channel, EmailChannel) else None,
            settings.get("PUBLIC_URL") or (base_url if _is_loopback_url(base_url) else ""),
            ttl=timedelta(seconds=float(setting(settings, "EMAIL_VERIFICATION_TTL_SECONDS"))),
            interval=timedelta(
                seconds=float(setting(settings, "EMAIL_VERIFICATION_INTERVAL_SECONDS"))
            ),
            speaker=context.speaker,
        )

    # --- saving an address --------------------------------------------------------------------

    def address_saved(
        self,
        session: Session,
        row: Preferences,
        old_email: str | None,
        user: dict[str, Any],
        now: datetime,
    ) -> Outgoing | None:
        """In the transaction that saves ``row``: whether its address is verified, and the
        message a new address needs (raises ``TooManyRequests`` when one went out too
        recently: the caller's transaction then changes nothing)."""
        if not row.email:
            row.email_verified_at = None
            return None
        if same_address(row.email, user.get("email")):
            if row.email_verified_at is None or not same_address(row.email, old_email):
                row.email_verified_at = now
            return None
        if same_address(row.email, old_email):
            return None  # unchanged: verified, or awaiting the link already sent
        row.email_verified_at = None
        if self.unavailable():
            return None  # nothing can be sent; the address waits (see ``resend``)
        return self._record(session, row.user_id, row.email, now)

    def unavailable(self) -> str | None:
        """Why no message can be sent from this server, or ``None``."""
        if self.channel is None:
            return "This server has no e-mail channel."
        if not self.base_url:
            return (
                "This server's public address is not set (CARDCRM_NOTIFICATIONS_PUBLIC_URL or "
                "CARDCRM_PUBLIC_URL), so no confirmation link can be sent."
            )
        return self.channel.unavailable()

    def _record(self, session: Session, user_id: int, address: str, now: datetime) -> Outgoing:
        last = session.scalar(
            select(EmailVerification.created_at)
            .where(EmailVerification.user_id == user_id, EmailVerification.error.is_(None))
            .order_by(EmailVerification.created_at.desc())
            .limit(1)
        )
        if last is not None and now < last + self.interval:
            wait = max(1, math.ceil((last + self.interval - now).total_seconds()))
            raise TooManyRequests(
                "A confirmation message for your notification address went out moments ago; "
                f"ask again in {wait} seconds.",
                wait,
            )
        # Rows long past their use only take room (an expired link answers 404 after this).
        session.execute(
            delete(EmailVerification).where(
                EmailVerification.user_id == user_id,
                EmailVerification.expires_at < now - self.ttl,
            )
        )
        token = secrets.token_urlsafe(TOKEN_BYTES)
        verification = EmailVerification(
            user_id=user_id,
            email=address,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + self.ttl,
        )
        session.add(verification)
        session.flush()
        return Outgoing(verification.id, address, token)

    # --- sending ------------------------------------------------------------------------------

    def send(
        self, session: Session, outgoing: Outgoing, user: dict[str, Any], now: datetime
    ) -> DeliveryError | None:
        """Send ``outgoing`` (its transaction committed) and record how it went; the error,
        if it could not be sent (a failed message does not count towards the limit)."""
        assert self.channel is not None
        failure: DeliveryError | None = None
        try:
            self.channel.send_alone(
                outgoing.address,
                self.content(outgoing, user),
                at=now,
                key=f"verification/{outgoing.verification_id}",
                rule=RULE,
            )
        except DeliveryError as error:
            log.warning(
                "cannot send the confirmation message of user %s: %s", user.get("id"), error
            )
            failure = error
        with write_transaction(session):
            verification = session.get(EmailVerification, outgoing.verification_id)
            if verification is not None:
                verification.sent_at = None if failure else now
                verification.error = str(failure) if failure else None
        return failure

    def link(self, token: str) -> str:
        return f"{self.base_url}{LINK_PATH}{token}"

    def content(self, outgoing: Outgoing, user: dict[str, Any]) -> Any:
        """The message: who asked, the link, and what to do if it was not you; in the user's
        language (whoever reads it at that address is most likely them)."""
        if self.speaker is None:
            return self._content(outgoing, user)
        with self.speaker.speaking(self.speaker.language_of(user)):
            return self._content(outgoing, user)

    def _content(self, outgoing: Outgoing, user: dict[str, Any]) -> Any:
        who = printable(str(user.get("name") or user.get("email") or _("Someone")), one_line=True)
        hours = max(1, round(self.ttl.total_seconds() / 3600))
        return page(
            _("Confirm your address for cardcrm notifications"),
            [
                _(
                    "%(who)s asked cardcrm to send their notifications to %(address)s.",
                    who=who,
                    address=outgoing.address,
                ),
                ngettext(
                    "If this is your address and you want them here, open the link below and "
                    "press “Confirm” within %(num)d hour.",
                    "If this is your address and you want them here, open the link below and "
                    "press “Confirm” within %(num)d hours.",
                    hours,
                ),
                _(
                    "If you did not ask for this, ignore this message: "
                    "nothing more will be sent to this address."
                ),
            ],
            self.link(outgoing.token),
            _("Confirm this address"),
            footer=_(
                "You get this message because this address was entered in someone's "
                "cardcrm notification settings."
            ),
        )

    def resend(self, session: Session, user: dict[str, Any], now: datetime) -> None:
        """Send the confirmation message of the caller's unverified address again (a new
        link; the earlier ones keep working). Conflict when there is nothing to confirm or
        no way to send; 429 within the interval; 422 when the SMTP server refuses the
        address; 503 when it cannot be reached."""
        forget(session)
        with write_transaction(session):
            row = session.get(Preferences, user["id"], with_for_update=True)
            if row is None or not row.email or row.email_verified_at is not None:
                raise Conflict("Your notification e-mail address needs no confirmation.")
            if same_address(row.email, user.get("email")):
                # The account's own, saved before addresses were verified: nothing to prove.
                row.email_verified_at = row.updated_at = now
                return
            reason = self.unavailable()
            if reason:
                raise Conflict(f"No confirmation message can be sent: {reason}")
            outgoing = self._record(session, row.user_id, row.email, now)
        failure = self.send(session, outgoing, user, now)
        if isinstance(failure, PermanentFailure):
            raise Invalid({"email": [str(failure)]}, "The mail server refused the address.")
        if failure is not None:
            raise ServiceUnavailable(f"The confirmation message could not be sent: {failure}")

    # --- the link -----------------------------------------------------------------------------

    def check(self, session: Session, token: str, now: datetime) -> EmailVerification:
        """The verification ``token`` confirms, if it may (else ``NotFound`` or ``Gone``)."""
        verification = session.scalar(
            select(EmailVerification).where(EmailVerification.token_hash == token_hash(token))
        )
        self._usable(session, verification, now)
        assert verification is not None
        return verification

    def confirm(self, session: Session, token: str, now: datetime) -> str:
        """Confirm the address ``token`` was sent to; that address."""
        forget(session)
        with write_transaction(session):
            verification = session.scalar(
                select(EmailVerification)
                .where(EmailVerification.token_hash == token_hash(token))
                .with_for_update()
            )
            row = self._usable(session, verification, now)
            assert verification is not None
            address = verification.email
            # The address is proven: this link and the user's others are done with.
            session.execute(
                update(EmailVerification)
                .where(
                    EmailVerification.user_id == row.user_id,
                    EmailVerification.used_at.is_(None),
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            row.email_verified_at = now
            row.updated_at = now
        log.info("user %s confirmed their notification address", row.user_id)
        return address

    def _usable(
        self, session: Session, verification: EmailVerification | None, now: datetime
    ) -> Preferences:
        # Whoever holds a token proves the mailbox it was sent to, even if recording that
        # the message went out failed.
        if verification is None:
            raise NotFound(
                "This link is not valid. Check that it was copied whole, or ask for a new one "
                "in your notification settings."
            )
        row = session.get(Preferences, verification.user_id)
        current = row is not None and same_address(row.email, verification.email)
        if verification.used_at is not None:
            done = current and row is not None and row.email_verified_at is not None
            raise Gone(
                "This link was used already"
                + (": the address is confirmed." if done else "; it works only once.")
            )
        if now >= verification.expires_at:
            raise Gone(
                "This link expired. Ask for a new one in your notification settings "
                "(POST /api/v1/preferences/email/resend)."
            )
        if not current or row is None:
            raise Gone(
                "This link is for an address that is no longer in the notification settings."
            )
        return row


def address_state(
    session: Session, preferences: UserPreferences, account_email: str | None
) -> dict[str, Any]:
    """What the preferences answer says of the address beyond ``email`` and
    ``email_verified``: where e-mails go now, and how the last confirmation message went."""
    state: dict[str, Any] = {
        "email_in_effect": preferences.email if preferences.email_verified else None,
        "email_verification_sent_at": None,
        "email_verification_error": None,
    }
    if preferences.email is None or preferences.email_verified:
        return state
    state["email_in_effect"] = account_email
    latest = session.scalar(
        select(EmailVerification)
        .where(EmailVerification.user_id == preferences.user_id)
        .order_by(EmailVerification.created_at.desc(), EmailVerification.id.desc())
        .limit(1)
    )
    if latest is not None and same_address(latest.email, preferences.email):
        state["email_verification_sent_at"] = latest.sent_at
        state["email_verification_error"] = latest.error
    return state


def _is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
