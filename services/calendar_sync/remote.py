"""Talking to a CalDAV server with the caldav library: checking an account, PUT/GET/DELETE of
to-dos with ETag preconditions, and asking what changed (RFC 6578 sync-collection).

Each failure is its own error class, so the sync worker can tell what to retry (the server is
down: ``RemoteUnavailable``), what needs the user (``RemoteRefused``: credentials or rights)
and what means "someone else changed it" (``RemoteChanged``: a precondition failed).

The server is one a user named, so every connection goes through the outbound guard
(``cardcrm.common.outbound``): the caldav client's HTTP session is the guard's, which refuses
private addresses at each connection and redirect (``RemoteTargetRefused``). What the errors
say of the server is its HTTP status at most, never its answer or the network's error: a
user must not learn from them what listens on a port the server can reach.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urljoin, urlsplit

from cardcrm.common.outbound import (
    COULD_NOT_CONNECT,
    OutboundPolicy,
    OutboundRefused,
    refusal_message,
)

if TYPE_CHECKING:
    from caldav.collection import Calendar
    from caldav.davclient import DAVClient

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TIMEOUT = 15
ICALENDAR = "text/calendar; charset=utf-8"


class RemoteError(Exception):
    """A CalDAV request failed."""


class RemoteUnavailable(RemoteError):
    """The server is unreachable, too slow, overloaded or failing (5xx, 429): retry later."""


class RemoteRefused(RemoteError):
    """The server refuses the credentials or the access (401, 403): the user must act."""


class RemoteTargetRefused(RemoteError):
    """The outbound guard refused the server's address (or a redirect's): nothing was sent.
    The text is the rule ("refused: private address")."""


class RemoteCalendarMissing(RemoteError):
    """The calendar collection is gone (deleted in the calendar app?)."""


class RemoteRejected(RemoteError):
    """The server refused one to-do (another 4xx, or a 412 with nothing in the way): sending
    it again as it is would fail again, so it waits until its task changes. ``status`` is the
    HTTP status the server answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteChanged(RemoteError):
    """A precondition failed (412): the object is not in the version we expected."""


class AccountCheckFailed(Exception):
    """An account cannot be used; ``field`` is the input to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class Changes:
    """What a pull found: the new token, changed members (href → ETag) and removed ones.

    ``complete`` means ``changed`` lists every member (a first sync, or a server without sync
    tokens): members we know of that it lacks were deleted.
    """

    token: str | None
    changed: dict[str, str | None] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    complete: bool = False


def _client(
    url: str, username: str, password: str, timeout: int, outbound: OutboundPolicy
) -> DAVClient:
    """A caldav client whose every request goes through the outbound guard's session.

    caldav makes its own niquests session and keeps it in ``session``, the one attribute its
    requests go through; ours replaces it before any request is made.
    """
    from caldav.davclient import DAVClient

    client = DAVClient(
        url=url,
        username=username,
        password=password,
        timeout=timeout,
        enable_rfc6764=False,
    )
    client.session.close()
    client.session = outbound.session()
    return client


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Turn the HTTP and caldav library's exceptions into the classes above."""
    from caldav.lib import error

    try:
        yield
    except RemoteError:
        raise
    except OutboundRefused as refusal:
        raise RemoteTargetRefused(refusal.rule) from None
    except error.AuthorizationError as failure:
        raise RemoteRefused(f"{action}: {_answered(failure)}") from None
    except error.RateLimitError as failure:
        raise RemoteUnavailable(f"{action}: {_answered(failure)}") from None
    except error.NotFoundError as failure:
        raise RemoteCalendarMissing(f"{action}: {_answered(failure)}") from None
    except error.DAVError as failure:
        raise RemoteUnavailable(f"{action}: {_answered(failure)}") from None
    except _unreachable():
        raise RemoteUnavailable(f"{action}: {COULD_NOT_CONNECT}") from None


def _unreachable() -> tuple[type[Exception], ...]:
    """The errors of a server out of reach: the HTTP libraries' (caldav uses niquests, or
    requests where that is missing) and the operating system's."""
    found: list[type[Exception]] = [OSError]
    for name in ("niquests", "requests"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        found.append(module.exceptions.RequestException)
    return tuple(found)


def _answered(failure: Exception) -> str:
    """A caldav error as a user may read it: the HTTP status, if the server answered one.

    The error's own text holds the server's reason phrase and body; they stay in the log."""
    status = getattr(failure, "status", None)
    return f"the server answered HTTP {status}" if isinstance(status, int) else COULD_NOT_CONNECT


class RemoteCalendar:
    """One calendar collection of one account."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        calendar_url: str,
        outbound: OutboundPolicy,
        timeout: int = DEFAULT_TIMEOUT,
    ) -> None:
        from caldav.collection import Calendar

        self.client = _client(url, username, password, timeout, outbound)
        self.calendar_url = calendar_url if calendar_url.endswith("/") else calendar_url + "/"
        self.calendar = Calendar(client=self.client, url=self.calendar_url)
        self.path = urlsplit(self.calendar_url).path

    def href(self, name: str) -> str:
        """The path of a member of the calendar named ``name``."""
        return self.path + name

    # --- objects ------------------------------------------------------------------------------

    def put(self, href: str, body: bytes, etag: str | None) -> str | None:
        """Store ``body``: over the version ``etag``, or as a new object when ``etag`` is None.

        Returns the new ETag (``None`` if the server would not say). ``RemoteChanged`` when the
        object is not at ``etag`` (or, for a new one, already exists).
        """
        headers = {"Content-Type": ICALENDAR}
        if etag:
            headers["If-Match"] = etag
        else:
            headers["If-None-Match"] = "*"
        response = self._request("PUT", href, body, headers)
        if response.status == 412:
            raise RemoteChanged(f"PUT {href}: the server answered HTTP 412")
        self._check(response, f"PUT {href}")
        new_etag = response.headers.get("ETag")
        if not new_etag or new_etag.startswith("W/"):
            # The server changed what we sent (RFC 4791 §5.3.4): read back its version.
            found = self.get(href)
            new_etag = found[1] if found else None
        return new_etag

    def get(self, href: str) -> tuple[str, str | None] | None:
        """The object's data and ETag, or ``None`` if there is none at ``href``."""
        response = self._request("GET", href, "", {"Accept": "text/calendar"})
        if response.status == 404:
            return None
        self._check(response, f"GET {href}")
        return response.raw, response.headers.get("ETag")

    def delete(self, href: str, etag: str | None) -> None:
        """Delete the object if it is still at ``etag``; already gone counts as done."""
        headers = {"If-Match": etag} if etag else {}
        response = self._request("DELETE", href, "", headers)
        if response.status == 404:
            return
        if response.status == 412:
            raise RemoteChanged(f"DELETE {href}: the server answered HTTP 412")
        self._check(response, f"DELETE {href}")

    # --- changes ------------------------------------------------------------------------------

    def changes(self, token: str | None) -> Changes:
        """Members changed or removed since ``token`` (all members when ``token`` is None).

        RFC 6578 sync-collection where the server has it; otherwise caldav lists every member
        with its ETag (a ``fake-`` token), and we compare ETags.
        """
        from caldav.elements import dav

        with translated_errors("sync"):
            result = _answer(
                self.calendar.get_objects_by_sync_token(sync_token=token, load_objects=False)
            )
        new_token = result.sync_token
        fallback = isinstance(new_token, str) and new_token.startswith("fake-")
        deleted = {self._path(url) for url in result.deleted_urls}
        changed = {}
        for member in result:
            path = self._path(member.url)
            if path in deleted or path.rstrip("/") == self.path.rstrip("/"):
                continue
            changed[path] = member.props.get(dav.GetEtag.tag)
        return Changes(
            token=str(new_token) if new_token else None,
            changed=changed,
            deleted=deleted,
            complete=token is None or fallback,
        )

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing is best effort
            log.debug("closing a CalDAV client failed", exc_info=True)

    # --- plumbing -----------------------------------------------------------------------------

    def _request(self, method: str, href: str, body: Any, headers: dict[str, str]) -> Any:
        with translated_errors(f"{method} {href}"):
            return self.client.request(urljoin(self.calendar_url, href), method, body, headers)

    def _check(self, response: Any, action: str) -> None:
        status = response.status
        if 200 <= status < 300:
            return
        answered = f"the server answered HTTP {status}"
        if status >= 500 or status in (408, 429):
            raise RemoteUnavailable(f"{action}: {answered}")
        if status in (401, 403):
            raise RemoteRefused(f"{action}: {answered}")
        if status == 404 or status == 409:
            raise RemoteCalendarMissing(f"{action}: the calendar is gone ({answered})")
        raise RemoteRejected(f"{action}: {answered}", status)

    @staticmethod
    def _path(url: Any) -> str:
        return unquote(urlsplit(str(url)).path)


def _answer(value: T | Coroutine[Any, Any, T]) -> T:
    """What a caldav call returned: its types cover async clients too, ours is synchronous."""
    assert not isinstance(value, Coroutine), "a synchronous client answers at once"
    return value


# --- checking an account --------------------------------------------------------------------


def check_account(
    url: str,
    username: str,
    password: str,
    calendar_name: str | None,
    outbound: OutboundPolicy,
    timeout: int = DEFAULT_TIMEOUT,
) -> tuple[str, str]:
    """Connect, find the calendar (or make it): returns its URL and display name.

    ``calendar_name`` names the calendar; without it, ``url`` itself may be a calendar, else
    one named "cardcrm" is found or made. Raises ``AccountCheckFailed`` saying why not: a
    refused address, refused credentials, or no CalDAV server; the last reads the same for a
    closed port, a timeout and a server that is no CalDAV server, with an HTTP status if the
    server answered one.
    """
    client = _client(url, username, password, timeout, outbound)
    try:
        return _find_calendar(client, url, calendar_name)
    except RemoteTargetRefused as refusal:
        # At the URL itself, or a redirect, or a calendar the server put elsewhere.
        raise AccountCheckFailed("url", refusal_message(str(refusal))) from None
    finally:
        client.close()


def _find_calendar(client: DAVClient, url: str, calendar_name: str | None) -> tuple[str, str]:
    try:
        with translated_errors("connect"):
            principal = client.get_principal()
            calendars = _answer(principal.get_calendars())
    except RemoteTargetRefused:
        raise
    except RemoteRefused as failure:
        raise AccountCheckFailed(
            "password", f"The server refused the user name or password ({failure})."
        ) from None
    except RemoteError as failure:
        raise AccountCheckFailed("url", _no_server(str(failure))) from None
    except Exception:  # a server that is no CalDAV server may answer anything
        log.info("account check of %s failed", url, exc_info=True)
        raise AccountCheckFailed("url", _no_server(f"connect: {COULD_NOT_CONNECT}")) from None
    chosen = _choose(url, calendars, calendar_name)
    if chosen is None:
        name = calendar_name or "cardcrm"
        try:
            with translated_errors("make calendar"):
                chosen = _answer(
                    principal.make_calendar(name=name, supported_calendar_component_set=["VTODO"])
                )
        except RemoteTargetRefused:
            raise
        except RemoteError as failure:
            raise AccountCheckFailed(
                "calendar", f"There is no calendar {name!r} and it cannot be made: {failure}."
            ) from None
        display = name
    else:
        display = _display_name(chosen) or calendar_name or "cardcrm"
    try:
        with translated_errors("read calendar"):
            components = _answer(chosen.get_supported_components())
    except RemoteTargetRefused:
        raise
    except RemoteError as failure:
        raise AccountCheckFailed("calendar", f"The calendar cannot be read: {failure}.") from None
    if components and "VTODO" not in components:
        raise AccountCheckFailed("calendar", f"The calendar {display!r} does not take to-dos.")
    return str(chosen.url), display


def _no_server(failure: str) -> str:
    return f"No CalDAV server answers at this URL ({failure})."


def _choose(url: str, calendars: list[Calendar], name: str | None) -> Calendar | None:
    given = unquote(urlsplit(url).path).rstrip("/")
    for calendar in calendars:
        if name is None and unquote(urlsplit(str(calendar.url)).path).rstrip("/") == given:
            return calendar
    wanted = name or "cardcrm"
    for calendar in calendars:
        if _display_name(calendar) == wanted:
            return calendar
    return None


def _display_name(calendar: Calendar) -> str | None:
    try:
        return _answer(calendar.get_display_name())
    except Exception:
        log.debug("reading a calendar's display name failed", exc_info=True)
        return None
