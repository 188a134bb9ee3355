"""Speaking CalDAV to the calendar service's test client, as one user of core's."""

from __future__ import annotations

from typing import Any

from lxml import etree

NS = {
    "D": "DAV:",
    "C": "urn:ietf:params:xml:ns:caldav",
    "CS": "http://calendarserver.org/ns/",
    "A": "http://apple.com/ns/ical/",
}
PREFIX = "/calendar/dav"


def dav_user(api: Any) -> dict[str, Any]:
    """What the DAV auth says of a user of core's test helpers (``Api``)."""
    user = api.user
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "timezone": user.timezone,
        "is_admin": bool(user.is_admin),
        "language": None,
    }


class Dav:
    """One user's CalDAV client on the calendar app's test client (mounted at /calendar)."""

    def __init__(self, client: Any, user: dict[str, Any]) -> None:
        self.client, self.user = client, user

    @property
    def home(self) -> str:
        return f"{PREFIX}/calendars/{self.user['id']}/"

    def collection(self, name: str) -> str:
        return f"{self.home}{name}/"

    def request(self, method: str, path: str, body: str | bytes = b"", **headers: str) -> Any:
        headers = {key.replace("_", "-"): value for key, value in headers.items()}
        headers["X-Test-Dav-User"] = str(self.user["id"])
        return self.client.open(
            path.removeprefix("/calendar"),
            method=method,
            data=body,
            headers=headers,
            base_url="http://localhost/calendar",
        )

    def propfind(self, path: str, props: list[str] | None, depth: str = "0") -> Any:
        body = ""
        if props is not None:
            inner = "".join(f"<{prop}/>" for prop in props)
            body = (
                '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
                'xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" '
                f'xmlns:A="http://apple.com/ns/ical/"><D:prop>{inner}</D:prop></D:propfind>'
            )
        return self.request("PROPFIND", path, body, Depth=depth)

    def report(self, path: str, body: str, depth: str = "1") -> Any:
        return self.request("REPORT", path, body, Depth=depth)

    def sync(self, collection: str, token: str = "") -> tuple[dict[str, Any], str, Any]:
        """A sync-collection report: href → etag (None: gone), the new token, the response."""
        response = self.report(
            self.collection(collection),
            '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
            f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/></D:prop></D:sync-collection>",
        )
        if response.status_code != 207:
            return {}, "", response
        tree = xml(response)
        changes: dict[str, Any] = {}
        for item in tree.findall("D:response", NS):
            href = item.findtext("D:href", namespaces=NS)
            changes[href] = item.findtext("D:propstat/D:prop/D:getetag", namespaces=NS)
        return changes, tree.findtext("D:sync-token", namespaces=NS), response


def xml(response: Any) -> Any:
    assert response.status_code == 207, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/xml"
    return etree.fromstring(response.data)


def found(tree: Any, href: str) -> dict[str, Any]:
    """The properties found (200) for ``href``, by ``prefix:name``."""
    for item in tree.findall("D:response", NS):
        if item.findtext("D:href", namespaces=NS) != href:
            continue
        result = {}
        for propstat in item.findall("D:propstat", NS):
            if "200" not in propstat.findtext("D:status", namespaces=NS):
                continue
            for prop in propstat.find("D:prop", NS):
                result[short(prop.tag)] = prop
        return result
    raise AssertionError(f"{href} not in {etree.tostring(tree)!r}")


def missing(tree: Any, href: str) -> set[str]:
    for item in tree.findall("D:response", NS):
        if item.findtext("D:href", namespaces=NS) == href:
            return {
                short(prop.tag)
                for propstat in item.findall("D:propstat", NS)
                if "404" in propstat.findtext("D:status", namespaces=NS)
                for prop in propstat.find("D:prop", NS)
            }
    raise AssertionError(href)


def short(tag: str) -> str:
    namespace, local = tag[1:].split("}")
    prefix = {value: key for key, value in NS.items()}[namespace]
    return f"{prefix}:{local}"


def hrefs(tree: Any) -> list[str]:
    return [item.findtext("D:href", namespaces=NS) for item in tree.findall("D:response", NS)]
