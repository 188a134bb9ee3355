"""Who is calling the CalDAV server: HTTP Basic with the user's e-mail and an app password.

Calendar apps speak Basic, not bearer tokens, so the DAV views call ``dav_user()`` instead of
the API's ``authenticate``. The account password is never accepted here: only an app password
made for a device (``app_passwords.py``), so a phone never holds the password that opens
everything, and each device can be shut out alone.

Basic sends the password in clear, so it is refused over plain HTTP (403) unless the client
is on this machine (loopback: ``cardcrm up`` on a laptop). Behind a reverse proxy both the
scheme and the client's address are the forwarded ones only when ``CARDCRM_TRUSTED_PROXIES``
says so (``common/proxy.py``). Without it, every request seems to come from the proxy on
loopback: then the proxy's own ``X-Forwarded-Proto`` decides, so a site served over plain http
by a local nginx does not pass for a local client.
Failed sign-ins are throttled as core's logins are (``throttle.py``).

A phone sends the password with every request, and polls every few minutes, so a sign-in
costs one indexed query and nothing more: the app password's row (by the SHA-256 of the
secret: it is a random secret of about 119 bits, for which a deliberately slow hash would add
nothing) together with whether the client's address failed lately, with a statement built
once (``app_passwords.find_app_password``). The row is read on every request, never kept, so a
password revoked by any process is refused at the next request. ``last_used_at`` is written
at most once a minute. Who the user is (name, time zone, language, admin) is core's answer,
which the core client keeps a few minutes (``sidecar.core_client.USER_TTL_SECONDS``): a user
deleted in core is refused once that has passed, and a new language shows as late.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import math
from typing import Any

from cardcrm.common.db import get_session, write_transaction
from cardcrm.common.errors import CardcrmError
from cardcrm.common.translate import gettext as _
from cardcrm.common.translate import lazy_gettext as _l
from cardcrm.common.translate import ngettext
from cardcrm.sidecar.core_client import CoreError
from flask import current_app, g, request

from .. import app_passwords
from . import throttle

log = logging.getLogger(__name__)

#: What a 401 asks for: Basic, with the user name and password in UTF-8 (RFC 7617).
CHALLENGE = 'Basic realm="cardcrm", charset="UTF-8"'
#: Seconds a client should wait when core, which says who the user is, cannot be reached.
CORE_RETRY_SECONDS = 30


class DavAuthError(CardcrmError):
    """A DAV request that cannot go on as it is: ``status`` 401 (no or wrong credentials,
    with ``WWW-Authenticate``), 403 (plain HTTP from another machine), 429 (throttled, with
    ``Retry-After``) or 503 (core cannot be reached). ``headers`` go on the answer."""

    title = _l("Sign-in to the calendar server failed")

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self._headers = dict(headers or {})
        if "Retry-After" in self._headers:
            self.retry_after = int(self._headers["Retry-After"])

    @property
    def message(self) -> str:
        """The text to answer with, in the language of the moment (``detail``)."""
        return self.detail

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._headers)


def dav_user() -> dict[str, Any]:
    """The user signing in to the DAV request with Basic auth: core's profile of them
    (``{"id", "email", "name", "timezone", "is_admin", "language"}``), also set as
    ``g.sidecar_user``. Raises ``DavAuthError`` otherwise."""
    address = request.remote_addr or ""
    if not request.is_secure and not (is_loopback(address) and not _proxied_over_http()):
        raise DavAuthError(
            403,
            _(
                "The calendar server takes passwords over https only; use the https address"
                " of this site."
            ),
        )
    email, secret = _credentials()
    context = current_app.extensions["calendar_sync"]
    session = get_session()
    now = context.clock()
    address = address or "unknown"
    found = app_passwords.find_app_password(
        session, email, secret, throttle.RECENT, throttle.recent_params(address, now)
    )
    failures = 0
    if found is None or found.also:  # refused before the password counts, as core's login
        refusal, failures = throttle.check(session, email, address, now)
        if refusal is not None:
            raise DavAuthError(
                429, _refusal_message(refusal), {"Retry-After": str(refusal.retry_after)}
            )
    if found is None:
        with write_transaction(session):
            throttle.failed(session, email, address, now)
        raise _unauthorized(_("Wrong e-mail or app password."))
    password_id, user_id, last_used_at = found.id, found.user_id, found.last_used_at
    if failures:
        with write_transaction(session):
            throttle.succeeded(session, email, address)
    if last_used_at is None or now - last_used_at >= app_passwords.USED_AT_STEP:
        app_passwords.note_use(session, password_id, now)
    try:
        user = context.core.user(user_id)
    except CoreError as error:
        log.warning("core did not say who user %s is: %s", user_id, error)
        raise DavAuthError(
            503,
            _("cardcrm's core service cannot be reached; try again soon."),
            {"Retry-After": str(CORE_RETRY_SECONDS)},
        ) from error
    if user is None:  # the user was deleted in core since the password was made
        raise _unauthorized(_("Wrong e-mail or app password."))
    g.sidecar_user = user
    return user


def is_loopback(address: str) -> bool:
    """Whether the client is on this machine (``127.0.0.0/8``, ``::1``, or IPv4 in IPv6)."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped.is_loopback
    return parsed.is_loopback


def _proxied_over_http() -> bool:
    """Whether a proxy on this machine (not trusted, so not applied by ``ProxyFix``) says the
    client came over plain http, or forwarded the request without saying how it came."""
    proto = request.headers.get("X-Forwarded-Proto")
    if proto:
        return proto.split(",")[-1].strip().lower() != "https"
    return "X-Forwarded-For" in request.headers or "Forwarded" in request.headers


def _credentials() -> tuple[str, str]:
    """The e-mail (lower-cased) and password of the request's ``Authorization: Basic``."""
    scheme, _space, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise _unauthorized(_("Sign in with your e-mail and an app password."))
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _unauthorized(_("Sign in with your e-mail and an app password.")) from None
    try:
        decoded = raw.decode()
    except UnicodeDecodeError:
        decoded = raw.decode("latin-1")  # clients that ignore charset="UTF-8"
    email, colon, secret = decoded.partition(":")
    if not colon or not email.strip() or not secret:
        raise _unauthorized(_("Sign in with your e-mail and an app password."))
    return app_passwords.normalize_email(email)[:320], secret


def _unauthorized(message: str) -> DavAuthError:
    return DavAuthError(401, message, {"WWW-Authenticate": CHALLENGE})


def _refusal_message(refusal: throttle.Refusal) -> str:
    minutes = max(1, math.ceil(refusal.retry_after / 60))
    if refusal.what == "account":
        return ngettext(
            "Too many failed sign-ins for this account; try again in a minute.",
            "Too many failed sign-ins for this account; try again in %(num)d minutes.",
            minutes,
        )
    return ngettext(
        "Too many failed sign-ins from your address; try again in a minute.",
        "Too many failed sign-ins from your address; try again in %(num)d minutes.",
        minutes,
    )
