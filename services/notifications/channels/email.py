"""The e-mail channel: plain text and HTML over SMTP (``CARDCRM_SMTP_URL``).

``smtp://user:password@host:25?from=cardcrm@example.com`` sends in the clear,
``smtps://...`` over TLS from the start (port 465), ``starttls://...`` (or ``smtp+starttls``)
upgrades with STARTTLS (port 587). Without a URL the channel is unavailable and e-mail
deliveries are logged as ``skipped`` with the reason. Each sender thread keeps its SMTP
connection open between messages. The ``Message-ID`` is derived from the delivery's key, so an
e-mail sent again after a crash (at least once) is recognisable as the same message. An event's
key holds the event's ``uid``, never core's integer id (reused after a restore from a backup),
so two events never share a ``Message-ID``.

Only a verified address gets notifications (``preferences.verification``): the dispatcher
hands this channel the account's own address until the chosen one is confirmed, and ``send``
refuses an unverified one outright. ``send_alone`` sends the confirmation message itself.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import Message as EmailHeaders
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from cardcrm.common.errors import ConfigurationError
from cardcrm.common.text import printable

from ..config import setting
from ..hookspecs import hookimpl
from .base import Channel, Content, DeliveryError, Message, PermanentFailure, TemporaryFailure

if TYPE_CHECKING:
    from ..preferences.effective import UserPreferences

log = logging.getLogger(__name__)

SECURITY_BY_SCHEME = {"smtp": "plain", "smtps": "tls", "starttls": "starttls"}
SECURITY_BY_SCHEME["smtp+starttls"] = "starttls"
DEFAULT_PORTS = {"plain": 25, "tls": 465, "starttls": 587}
#: An idle connection older than this is closed rather than reused (servers drop them).
IDLE_SECONDS = 30.0
NOT_CONFIGURED = "E-mail is not configured on this server: set CARDCRM_SMTP_URL."
UNVERIFIED = "refused: the address is not verified"
#: SMTP wants CRLF line ends, and ``sendmail`` sends bytes as they are.
SMTP_LINES = compat32.clone(linesep="\r\n")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    sender: str
    timeout: float

    @classmethod
    def from_url(cls, url: str, timeout: float) -> SmtpServer:
        parts = urlsplit(url)
        security = SECURITY_BY_SCHEME.get(parts.scheme)
        if security is None or not parts.hostname:
            raise ConfigurationError(
                "CARDCRM_SMTP_URL must look like smtp://host:25, smtps://... or starttls://..."
            )
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[security],
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=query.get("from", ["cardcrm@localhost"])[0],
            timeout=float(query.get("timeout", [timeout])[0]),
        )

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2] or "localhost"

    def connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.security == "tls":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                connection.starttls(context=context)
        if self.username:
            connection.login(self.username, self.password or "")
        return connection


def message_id(key: str, domain: str) -> str:
    """The ``Message-ID`` of a delivery: the same for every attempt at it."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}.cardcrm@{domain}>"


class EmailChannel(Channel):
    name = "email"
    label = "E-mail"

    def __init__(self, server: SmtpServer | None) -> None:
        self.server = server
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> EmailChannel:
        url = settings.get("SMTP_URL")
        timeout = float(setting(settings, "SMTP_TIMEOUT_SECONDS"))
        return cls(SmtpServer.from_url(url, timeout) if url else None)

    def unavailable(self) -> str | None:
        return None if self.server else NOT_CONFIGURED

    def address(self, preferences: UserPreferences) -> str | None:
        return preferences.email

    def compose(self, message: Message) -> MIMEMultipart:
        """The e-mail of ``message``: text and HTML alternatives."""
        return self.compose_email(
            message.address, message.content, at=message.at, key=message.key, rule=message.rule
        )

    def compose_email(
        self, address: str, content: Content, *, at: datetime, key: str, rule: str
    ) -> MIMEMultipart:
        """An e-mail of ``content`` to ``address``; ``key`` makes its ``Message-ID``.

        Built with the ``email.mime`` classes, about four times faster than ``EmailMessage``
        (its header parsing dominated the cost of sending).
        """
        assert self.server is not None
        email = MIMEMultipart("alternative")
        # ``Composer`` already keeps control characters out; a channel a plugin fed its own
        # ``Content`` gets the same guarantee here, where the e-mail is written.
        title = " ".join(printable(content.title, one_line=True).split())
        # A compat32 message takes a ``Header`` (encoded and folded when sent) for a non-ASCII
        # value; typeshed types header values as ``str`` only.
        headers = cast("EmailHeaders[str, str | Header]", email)
        headers["Subject"] = title if title.isascii() else Header(title, "utf-8")
        email["From"] = self.server.sender
        email["To"] = address
        email["Date"] = format_datetime(at)
        email["Message-ID"] = message_id(key, self.server.domain)
        email["Auto-Submitted"] = "auto-generated"
        email["X-Cardcrm-Rule"] = printable(rule, one_line=True)
        email.attach(MIMEText(printable(content.text), "plain", "utf-8"))
        email.attach(MIMEText(printable(content.html), "html", "utf-8"))
        return email

    def send(self, message: Message) -> None:
        if self.server is None:
            raise PermanentFailure(NOT_CONFIGURED)
        if not message.preferences.email_verified:
            # The dispatcher never asks this; a second line in case another caller does.
            raise PermanentFailure(UNVERIFIED)
        email = self.compose(message).as_bytes(policy=SMTP_LINES)
        for attempt in (1, 2):
            connection, reused = self._connection()
            try:
                connection.sendmail(self.server.sender, [message.address], email)
                self._local.used_at = time.monotonic()
                return
            except smtplib.SMTPServerDisconnected as error:
                self._drop()
                # A kept connection the server closed meanwhile: one more try on a new one.
                if attempt == 2 or not reused:
                    raise TemporaryFailure(f"the SMTP server disconnected: {error}") from error
            except (OSError, smtplib.SMTPException) as error:
                self._drop()
                raise _failure_of(error) from error

    def send_alone(
        self, address: str, content: Content, *, at: datetime, key: str, rule: str
    ) -> None:
        """Send one e-mail on a connection of its own, closed at once: for a web request,
        whose threads keep no SMTP connection. Raises a ``DeliveryError`` as ``send`` does."""
        if self.server is None:
            raise PermanentFailure(NOT_CONFIGURED)
        email = self.compose_email(address, content, at=at, key=key, rule=rule)
        try:
            connection = self.server.connect()
        except smtplib.SMTPAuthenticationError as error:
            raise TemporaryFailure(f"the SMTP server refused the login: {error}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(f"cannot connect to the SMTP server: {error}") from error
        try:
            connection.sendmail(self.server.sender, [address], email.as_bytes(policy=SMTP_LINES))
        except (OSError, smtplib.SMTPException) as error:
            raise _failure_of(error) from error
        finally:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()

    def _connection(self) -> tuple[smtplib.SMTP, bool]:
        connection = getattr(self._local, "connection", None)
        if connection is not None and time.monotonic() - self._local.used_at < IDLE_SECONDS:
            return connection, True
        self._drop()
        assert self.server is not None
        try:
            connection = self.server.connect()
        except smtplib.SMTPAuthenticationError as error:
            raise TemporaryFailure(f"the SMTP server refused the login: {error}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(f"cannot connect to the SMTP server: {error}") from error
        self._local.connection, self._local.used_at = connection, time.monotonic()
        return connection, False

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()

    def close(self) -> None:
        self._drop()


def _failure_of(error: OSError | smtplib.SMTPException) -> DeliveryError:
    """What a failed ``sendmail`` means: a 5xx answer is final, the rest worth retrying."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()))
        return _failure(code, f"the SMTP server refused the address: {code} {reply!r}")
    if isinstance(error, smtplib.SMTPResponseException):
        return _failure(
            error.smtp_code, f"the SMTP server answered {error.smtp_code} {error.smtp_error!r}"
        )
    return TemporaryFailure(f"cannot send through the SMTP server: {error}")


def _failure(code: int, text: str) -> TemporaryFailure | PermanentFailure:
    return PermanentFailure(text) if 500 <= code < 600 else TemporaryFailure(text)


@hookimpl
def cardcrm_notification_channels(settings: dict[str, Any]) -> list[Channel]:
    return [EmailChannel.from_settings(settings)]
