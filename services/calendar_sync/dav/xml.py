"""WebDAV's XML: reading request bodies safely and writing multistatus answers.

Request bodies come from anyone who can reach the server: they are parsed without entities,
network access or huge trees (no billion laughs, no external entities), and whatever does not
parse is a ``BadXml`` (a 400), never a 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
        raise BadXml("The request body is too large.")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
    )
    try:
        root = etree.fromstring(body, parser)
    except (etree.XMLSyntaxError, ValueError) as error:
        raise BadXml(f"The request body is not well-formed XML: {error}") from None
    if root is None:
        raise BadXml("The request body is empty.")
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


def multistatus() -> Any:
    return etree.Element(name(DAV, "multistatus"), nsmap=NAMESPACES)


def add_response(
    root: Any,
    href: str,
    found: Iterable[Any] = (),
    missing: Iterable[str] = (),
    forbidden: Iterable[str] = (),
    status: int | None = None,
) -> None:
    """One ``<D:response>``: a ``status`` alone (a member gone: 404), or a propstat of the
    properties ``found`` (elements) and one per failing status of those named."""
    response = etree.SubElement(root, name(DAV, "response"))
    etree.SubElement(response, name(DAV, "href")).text = href
    if status is not None:
        etree.SubElement(response, name(DAV, "status")).text = status_line(status)
        return
    for code, props in ((200, list(found)), (403, list(forbidden)), (404, list(missing))):
        if not props:
            continue
        propstat = etree.SubElement(response, name(DAV, "propstat"))
        prop = etree.SubElement(propstat, name(DAV, "prop"))
        for item in props:
            prop.append(item if code == 200 else etree.Element(item))
        etree.SubElement(propstat, name(DAV, "status")).text = status_line(code)


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
