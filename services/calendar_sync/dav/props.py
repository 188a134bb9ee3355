"""The WebDAV and CalDAV properties of each kind of resource the server shows.

A resource answers the properties it knows with an element each; the others go into a 404
propstat. ``allprop`` gives every property but the expensive and the computed-on-demand ones
(RFC 4918 §9.1: ``calendar-data`` is never in it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .xml import APPLE, CALDAV, CALSERVER, DAV, element, fragment, name, text_element

#: Collections' colours (Apple's ``calendar-color``), as iOS and DAVx⁵ read them.
COLOURS = {"tasks": "#2E7D32FF", "deadlines": "#C62828FF"}
ORDER = {"tasks": "1", "deadlines": "2"}
REPORTS = (
    (CALDAV, "calendar-query"),
    (CALDAV, "calendar-multiget"),
    (DAV, "sync-collection"),
)
#: What the user may do in their collections: read, and write objects (not the collections).
PRIVILEGES = ("read", "write", "write-content", "bind", "unbind", "read-current-user-privilege-set")


@dataclass
class Resource:
    """One resource: ``kind`` is root, principal, home, collection or object."""

    kind: str
    href: str
    props: dict[str, Callable[[], Any]]

    def answer(self, wanted: list[str] | None) -> tuple[list[str], list[str]]:
        """The properties ``wanted`` (``None``: allprop) as XML fragments, and the names
        unknown here. A property is made by a function giving an element, or a fragment."""
        if wanted is None:
            wanted = [key for key in self.props if key not in EXPENSIVE]
        found, missing = [], []
        for prop in wanted:
            make = self.props.get(prop)
            if make is None:
                missing.append(prop)
            else:
                made = make()
                found.append(made if isinstance(made, str) else fragment(made))
        return found, missing


CALENDAR_DATA = name(CALDAV, "calendar-data")
GETETAG = name(DAV, "getetag")
#: Left out of allprop.
EXPENSIVE = {CALENDAR_DATA}


def href_element(href: str) -> Any:
    return element(name(DAV, "href"), href)


def wrapped(tag: str, *inner: Any) -> Callable[[], Any]:
    return lambda: element(tag, None, *[make() for make in inner])


def text(tag: str, value: str) -> Callable[[], Any]:
    return lambda: element(tag, value)


def href_prop(tag: str, href: str) -> Callable[[], Any]:
    return lambda: element(tag, None, href_element(href))


def resourcetype(*kinds: tuple[str, str]) -> Callable[[], Any]:
    return lambda: element(
        name(DAV, "resourcetype"), None, *[element(name(ns, local)) for ns, local in kinds]
    )


def privileges(names: tuple[str, ...]) -> Callable[[], Any]:
    return lambda: element(
        name(DAV, "current-user-privilege-set"),
        None,
        *[element(name(DAV, "privilege"), None, element(name(DAV, each))) for each in names],
    )


def supported_reports() -> Any:
    return element(
        name(DAV, "supported-report-set"),
        None,
        *[
            element(
                name(DAV, "supported-report"),
                None,
                element(name(DAV, "report"), None, element(name(ns, local))),
            )
            for ns, local in REPORTS
        ],
    )


def common(principal: str) -> dict[str, Callable[[], Any]]:
    return {
        name(DAV, "current-user-principal"): href_prop(
            name(DAV, "current-user-principal"), principal
        ),
        name(DAV, "principal-collection-set"): href_prop(
            name(DAV, "principal-collection-set"), principal.rsplit("/", 2)[0] + "/"
        ),
    }


def root_resource(href: str, principal: str) -> Resource:
    return Resource(
        "root",
        href,
        {
            name(DAV, "resourcetype"): resourcetype((DAV, "collection")),
            name(DAV, "displayname"): text(name(DAV, "displayname"), "cardcrm"),
            **common(principal),
            name(DAV, "current-user-privilege-set"): privileges(("read",)),
        },
    )


def principal_resource(href: str, user: dict[str, Any], home: str) -> Resource:
    email = user.get("email") or ""
    return Resource(
        "principal",
        href,
        {
            name(DAV, "resourcetype"): resourcetype((DAV, "collection"), (DAV, "principal")),
            name(DAV, "displayname"): text(
                name(DAV, "displayname"), user.get("name") or email or str(user["id"])
            ),
            **common(href),
            name(DAV, "principal-URL"): href_prop(name(DAV, "principal-URL"), href),
            name(CALDAV, "calendar-home-set"): href_prop(name(CALDAV, "calendar-home-set"), home),
            name(CALDAV, "calendar-user-address-set"): href_prop(
                name(CALDAV, "calendar-user-address-set"), f"mailto:{email}"
            ),
            name(CALSERVER, "email-address-set"): lambda: element(
                name(CALSERVER, "email-address-set"),
                None,
                element(name(CALSERVER, "email-address"), email),
            ),
            name(DAV, "current-user-privilege-set"): privileges(("read",)),
            name(DAV, "supported-report-set"): lambda: element(name(DAV, "supported-report-set")),
        },
    )


def home_resource(href: str, principal_href: str, display: str) -> Resource:
    return Resource(
        "home",
        href,
        {
            name(DAV, "resourcetype"): resourcetype((DAV, "collection")),
            name(DAV, "displayname"): text(name(DAV, "displayname"), display),
            name(DAV, "owner"): href_prop(name(DAV, "owner"), principal_href),
            **common(principal_href),
            name(DAV, "current-user-privilege-set"): privileges(("read",)),
        },
    )


def collection_resource(
    href: str,
    principal_href: str,
    collection_name: str,
    component: str,
    display: str,
    token: Callable[[], str],
) -> Resource:
    def etag() -> Any:
        return element(
            name(DAV, "getetag"), '"' + hashlib.sha256(token().encode()).hexdigest()[:32] + '"'
        )

    return Resource(
        "collection",
        href,
        {
            name(DAV, "resourcetype"): resourcetype((DAV, "collection"), (CALDAV, "calendar")),
            name(DAV, "displayname"): text(name(DAV, "displayname"), display),
            name(CALDAV, "supported-calendar-component-set"): lambda: component_set(component),
            name(CALDAV, "supported-calendar-data"): lambda: element(
                name(CALDAV, "supported-calendar-data"),
                None,
                element(name(CALDAV, "calendar-data")),
            ),
            name(CALSERVER, "getctag"): lambda: element(name(CALSERVER, "getctag"), token()),
            name(DAV, "sync-token"): lambda: element(name(DAV, "sync-token"), token()),
            name(DAV, "getetag"): etag,
            name(APPLE, "calendar-color"): text(
                name(APPLE, "calendar-color"), COLOURS[collection_name]
            ),
            name(APPLE, "calendar-order"): text(
                name(APPLE, "calendar-order"), ORDER[collection_name]
            ),
            name(DAV, "owner"): href_prop(name(DAV, "owner"), principal_href),
            **common(principal_href),
            name(DAV, "current-user-privilege-set"): privileges(PRIVILEGES),
            name(DAV, "supported-report-set"): supported_reports,
            name(DAV, "getcontenttype"): text(name(DAV, "getcontenttype"), "text/calendar"),
        },
    )


def component_set(component: str) -> Any:
    comp = element(name(CALDAV, "comp"))
    comp.set("name", component)
    return element(name(CALDAV, "supported-calendar-component-set"), None, comp)


def calendar_object(
    href: str, etag: str, component: str, body: Callable[[], bytes], length: int
) -> Resource:
    # Fragments, not elements: a collection's objects are thousands of these.
    content_type = f"text/calendar; charset=utf-8; component={component.lower()}"
    return Resource(
        "object",
        href,
        {
            name(DAV, "resourcetype"): lambda: "<D:resourcetype/>",
            name(DAV, "getetag"): lambda: text_element("D", "getetag", etag),
            name(DAV, "getcontenttype"): lambda: text_element("D", "getcontenttype", content_type),
            name(DAV, "getcontentlength"): lambda: (
                f"<D:getcontentlength>{length}</D:getcontentlength>"
            ),
            name(CALDAV, "calendar-data"): lambda: text_element(
                "C", "calendar-data", body().decode()
            ),
        },
    )
