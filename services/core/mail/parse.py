"""Reading a raw RFC 5322 message (bytes from anyone on the Internet) into what a card keeps.

The stdlib ``email`` package (``policy.default``) parses; every step that can trip on hostile
input (a header that is no address list, an unknown charset, nesting deeper than Python's
recursion, a part without a payload) falls back to something plainer instead of failing, so
any bytes become a message: at worst one with only a subject and the raw text.
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.utils import formataddr, getaddresses

from .sanitise import sanitise_html

log = logging.getLogger(__name__)

#: Bounds on what one message keeps, so a hostile header cannot fill a page.
MAX_SUBJECT = 998
MAX_ADDRESS = 500
MAX_ADDRESSES = 100
MAX_MESSAGE_ID = 998
MAX_FILENAME = 255
MAX_ATTACHMENTS = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ONE_LINE = re.compile(r"[\t\r\n]+")


@dataclass
class Attachment:
    name: str
    content_type: str
    content: bytes


@dataclass
class ParsedMessage:
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str | None = None
    message_id: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    #: What makes two deliveries the same message: the SHA-256 of its Message-ID, or of the
    #: raw bytes when it has none.
    dedupe_key: str = ""


def clean_text(value: str, one_line: bool = False) -> str:
    """Text safe to store and show: valid UTF-8, no control characters but tab and newlines
    (none at all for ``one_line``)."""
    value = value.encode("utf-8", "replace").decode("utf-8")
    value = _CONTROL.sub("", value)
    if one_line:
        value = _ONE_LINE.sub(" ", value).strip()
    return value


def parse(raw: bytes) -> ParsedMessage:
    """What ``raw`` says, never raising for what it contains."""
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
        parsed = _read(message)
    except RecursionError:
        log.warning("a message nested too deeply to parse; keeping its headers and raw text")
        parsed = _plain(raw)
    except Exception:
        log.exception("a message the email package could not read; keeping its raw text")
        parsed = _plain(raw)
    message_id = parsed.message_id
    basis = message_id.strip().strip("<>").strip().encode() if message_id else raw
    parsed.dedupe_key = hashlib.sha256(basis).hexdigest()
    return parsed


def _read(message: EmailMessage) -> ParsedMessage:
    parsed = _headers(message)
    text_part = _body_part(message, "plain")
    html_part = _body_part(message, "html")
    if text_part is not None:
        parsed.text = clean_text(_content(text_part))
    if html_part is not None:
        parsed.html = sanitise_html(clean_text(_content(html_part)))
    if not message.is_multipart() and text_part is None and html_part is None:
        parsed.text = clean_text(_content(message))
    parsed.attachments = _attachments(message, {id(text_part), id(html_part)})
    return parsed


def _plain(raw: bytes) -> ParsedMessage:
    """A message read without its structure: the headers one by one, the rest as text."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    try:
        headers = email.message_from_bytes(head + b"\n\n", policy=policy.default)
        parsed = _headers(headers)
    except Exception:
        log.exception("unreadable headers")
        parsed = ParsedMessage()
    parsed.text = clean_text(body.decode("utf-8", "replace"))
    return parsed


def _headers(message: EmailMessage) -> ParsedMessage:
    froms = _addresses(message, "from")
    message_id = _header(message, "message-id")[:MAX_MESSAGE_ID] or None
    return ParsedMessage(
        from_address=froms[0] if froms else "",
        to=_addresses(message, "to"),
        cc=_addresses(message, "cc"),
        subject=_header(message, "subject")[:MAX_SUBJECT],
        message_id=message_id,
    )


def _header(message: Message, name: str) -> str:
    """The header's decoded text; its raw text when it cannot be decoded; ``""`` if absent."""
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except Exception:
        raw = next((value for key, value in message.raw_items() if key.lower() == name), "")
        text = str(raw)
    return clean_text(text, one_line=True)


def _addresses(message: Message, name: str) -> list[str]:
    values: list[str] = []
    try:
        values = [str(value) for value in message.get_all(name) or []]
    except Exception:
        values = [str(value) for key, value in message.raw_items() if key.lower() == name]
    found = []
    for display, address in getaddresses(values):
        if not address:
            continue
        text = formataddr((clean_text(display, True), clean_text(address, True)))
        found.append(text[:MAX_ADDRESS])
        if len(found) >= MAX_ADDRESSES:
            break
    return found


def _body_part(message: EmailMessage, subtype: str) -> Message | None:
    try:
        return message.get_body(preferencelist=(subtype,))
    except Exception:
        log.warning("no %s body could be found in a message", subtype, exc_info=True)
        return None


def _content(part: Message) -> str:
    """A text part's text, decoded by its charset, or as UTF-8 when that charset is wrong."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception:
        log.info("a part with a wrong charset or encoding; read as UTF-8", exc_info=True)
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    value = part.get_payload()
    return value if isinstance(value, str) else ""


def _attachments(message: Message, bodies: set[int]) -> list[Attachment]:
    found: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart() or id(part) in bodies:
            continue
        try:
            disposition = part.get_content_disposition()
            name = part.get_filename()
        except Exception:
            disposition, name = None, None
        if disposition != "attachment" and not name:
            continue
        try:
            content = part.get_payload(decode=True)
        except Exception:
            content = None
        if not isinstance(content, bytes):
            content = b""
        number = len(found) + 1
        found.append(
            Attachment(
                name=_filename(name, number),
                content_type=clean_text(part.get_content_type(), True)[:200],
                content=content,
            )
        )
        if len(found) >= MAX_ATTACHMENTS:
            break
    return found


def _filename(name: str | None, number: int) -> str:
    text = clean_text(str(name or ""), one_line=True).replace("/", "_").replace("\\", "_")
    text = text.strip(". ")[:MAX_FILENAME]
    return text or f"attachment-{number}"
