"""WebDAV's XML: reading request bodies safely and writing multistatus answers.

Request bodies come from anyone who can reach the server: they are parsed without entities,
network access or huge trees (no billion laughs, no external entities), and whatever does not
parse is a ``BadXml`` (a 400), never a 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape

from cardcrm.common.translate import gettext as _
from lxml import etree

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CALSERVER = "http://calendarserver.org/ns/"
APPLE = "http://apple.com/ns/ical/"
NAMESPACES = {"D": DAV, "C": CALDAV, "CS": CALSERVER, "A": APPLE}

#: Request bodies bigger than this are refused before parsing (a REPORT of 5,000 hrefs is
#: about 400 kB).
MAX_XML_BYTES = 4 * 1024 * 1024


class BadXml(Exception):
    """The request body is not the XML this request needs."""


def name(namespace: str, local: str) -> str:
    """An element's name in Clark notation: ``{DAV:}getetag``."""
    return f"{{{namespace}}}{local}"


def parse(body: bytes) -> Any:
    """The root element of a request body; ``BadXml`` when it is not well-formed XML."""
    if len(body) > MAX_XML_BYTES:
        raise BadXml(_("The request body is too large."))
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
    )
    try:
        root = etree.fromstring(body, parser)
    except (etree.XMLSyntaxError, ValueError) as error:
        raise BadXml(
            _("The request body is not well-formed XML: %(error)s", error=str(error))
        ) from None
    if root is None:
        raise BadXml(_("The request body is empty."))
    return root


def children(element: Any) -> list[Any]:
    """The child elements (not comments or processing instructions)."""
    return [child for child in element if isinstance(child.tag, str)]


def requested_props(container: Any) -> list[str]:
    """The property names inside a ``<D:prop>``."""
    return [child.tag for child in children(container)]


def element(tag: str, text: str | None = None, *inner: Any) -> Any:
    made = etree.Element(tag, nsmap=NAMESPACES)
    if text is not None:
        made.text = text
    for child in inner:
        made.append(child)
    return made


def status_line(status: int) -> str:
    reasons = {
        200: "OK",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        424: "Failed Dependency",
    }
    return f"HTTP/1.1 {status} {reasons.get(status, '')}".rstrip()


class Multistatus:
    """A ``<D:multistatus>`` written as text: thousands of responses (a calendar-query of a
    whole collection) cost string joins, not a tree. Properties come as XML fragments."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tail = ""

    def add(
        self,
        href: str,
        found: Iterable[str] = (),
        missing: Iterable[str] = (),
        forbidden: Iterable[str] = (),
        status: int | None = None,
    ) -> None:
        """One ``<D:response>``: a ``status`` alone (a member gone: 404), or a propstat of the
        properties ``found`` (fragments) and one per failing status of those named."""
        parts = self.parts
        parts.append(f"<D:response><D:href>{escape(href)}</D:href>")
        if status is not None:
            parts.append(f"<D:status>{status_line(status)}</D:status></D:response>")
            return
        for code, props in ((200, list(found)), (403, list(forbidden)), (404, list(missing))):
            if not props:
                continue
            parts.append("<D:propstat><D:prop>")
            parts.extend(props if code == 200 else [empty(prop) for prop in props])
            parts.append(f"</D:prop><D:status>{status_line(code)}</D:status></D:propstat>")
        parts.append("</D:response>")

    def add_calendar_data(
        self, href_prefix: str, objects: Iterable[tuple[int, str, bytes]], missing: list[str]
    ) -> None:
        """What ``add`` writes for objects asked ``getetag`` and ``calendar-data`` (and the
        properties ``missing``), one format per object: a calendar-query of a whole collection
        is thousands of them. ``objects`` are (task id, ETag, body); the href is
        ``href_prefix`` + id + ``.ics``."""
        prefix = escape(href_prefix)
        ok = status_line(200)
        absent = ""
        if missing:
            absent = (
                "<D:propstat><D:prop>"
                + "".join(empty(prop) for prop in missing)
                + f"</D:prop><D:status>{status_line(404)}</D:status></D:propstat>"
            )
        self.parts.extend(
            f"<D:response><D:href>{prefix}{task_id}.ics</D:href><D:propstat><D:prop>"
            f"<D:getetag>{escape_text(etag)}</D:getetag>"
            f"<C:calendar-data>{escape_text(body.decode())}</C:calendar-data>"
            f"</D:prop><D:status>{ok}</D:status></D:propstat>{absent}</D:response>"
            for task_id, etag, body in objects
        )

    def body(self) -> bytes:
        declarations = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NAMESPACES.items())
        return (
            f'<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus {declarations}>'
            + "".join(self.parts)
            + self.tail
            + "</D:multistatus>"
        ).encode()


PREFIXES = {uri: prefix for prefix, uri in NAMESPACES.items()}


def empty(clark: str) -> str:
    """An empty element of that name, as a fragment inside a multistatus."""
    namespace, _, local = clark[1:].partition("}")
    prefix = PREFIXES.get(namespace)
    if prefix:
        return f"<{prefix}:{local}/>"
    return f'<X:{local} xmlns:X="{escape(namespace, QUOTE)}"/>'


def fragment(element: Any) -> str:
    return etree.tostring(element, encoding="unicode")


def text_element(prefix: str, local: str, value: str) -> str:
    return f"<{prefix}:{local}>{escape_text(value)}</{prefix}:{local}>"


def escape_text(value: str) -> str:
    """``value`` as an element's text: ``saxutils.escape`` with ``CARRIAGE_RETURN``, in four
    C-level replaces (it runs twice per object of a calendar-query)."""
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


QUOTE = {'"': "&quot;"}
#: A CR written as is would reach the client as a bare LF (XML's end-of-line handling).
CARRIAGE_RETURN = {"\r": "&#13;"}


def serialize(root: Any) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def error_body(condition: str | None, message: str) -> bytes:
    """A ``<D:error>`` naming the precondition that failed (RFC 4918 §16)."""
    root = etree.Element(name(DAV, "error"), nsmap=NAMESPACES)
    if condition:
        etree.SubElement(root, condition)
    if message:
        etree.SubElement(root, name("urn:cardcrm:dav", "message")).text = message
    return serialize(root)
