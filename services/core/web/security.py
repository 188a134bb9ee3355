"""Who is logged in, the CSRF check, and the security headers of the web UI's responses.

A logged-in browser has a server-side session (``auth/sessions.py``): its cookie
``cardcrm_session`` holds only a random id, HttpOnly, SameSite=Lax, and Secure whenever the
request came over https (directly, or through a trusted proxy that says so) or
``PUBLIC_URL`` is https. Logging out deletes the session on the server, so the cookie opens
nothing afterwards; a cookie naming no live session (ended, expired, or from before
server-side sessions) is dropped and the visitor logs in again. Flask's own signed cookie
(``cardcrm_flash``) keeps only one-time messages and the CSRF token of the login form.

Every unsafe request to a web page must send the session's CSRF token back, as the
``csrf_token`` form field or the ``X-CSRF-Token`` header (htmx sends the header, set once on
<body>). The JSON API never reads these cookies, so it needs no token.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from cardcrm.common.api import API_PREFIX
from cardcrm.common.db import get_session
from cardcrm.common.errors import Forbidden
from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    current_app,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..auth import sessions
from ..auth.models import User, WebSession

SESSION_COOKIE = "cardcrm_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class CsrfRefused(Forbidden):
    title = "Form expired"

    def __init__(self) -> None:
        super().__init__(
            _("The form's security token is missing or out of date. Reload the page and try again.")
        )
        # Said in the visitor's language (raised within a request, before any view).
        self.title = _("Form expired")


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that anonymous visitors may see (log in, first run)."""
    view.web_public = True  # type: ignore[attr-defined]
    return view


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not g.web_user.is_admin:
            raise Forbidden(_("Only admins may do this."))
        return view(*args, **kwargs)

    return wrapped


def current_user() -> User:
    return g.web_user


def current_session() -> tuple[WebSession, str]:
    """The logged-in browser's session and the secret its cookie holds."""
    return g.web_session, g.web_secret


def csrf_token() -> str:
    web_session = g.get("web_session")
    if web_session is not None:
        return web_session.csrf_token
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def log_in(user: User) -> None:
    """Start a new session of ``user`` in this browser. Whatever session the browser had
    ends, and nothing set before (e.g. by someone else) survives."""
    db = get_session()
    if g.get("web_session") is not None:
        sessions.end(db, g.web_session.id)
    session.clear()
    secret, row = sessions.start(
        db,
        user,
        lifetimes(),
        user_agent=request.user_agent.string,
        address=request.remote_addr or "",
    )
    g.web_session, g.web_secret, g.web_user = row, secret, user
    g.session_cookie = secret, row.created_at + lifetimes().absolute


def log_out() -> None:
    """End this browser's session on the server (its browser token goes with it)."""
    if g.get("web_session") is not None:
        sessions.end(get_session(), g.web_session.id)
    session.clear()
    g.web_session = g.web_secret = g.web_user = None
    g.session_cookie = None


def lifetimes() -> sessions.Lifetimes:
    return sessions.Lifetimes.of(current_app.config)


def cookie_secure() -> bool:
    """Cookies are Secure over https, or when the site's public address is https."""
    return (
        request.is_secure
        or str(current_app.config.get("PUBLIC_URL", "")).startswith("https://")
        or bool(current_app.config.get("SESSION_COOKIE_SECURE"))
    )


class FlashCookieInterface(SecureCookieSessionInterface):
    """Flask's signed cookie (one-time messages, the login form's CSRF token), Secure by the
    same rule as the session cookie.

    Only pages use it: an API request gets an empty session without the cookie being read
    (checking its signature was 3 % of a kept answer's time), and an empty session left
    unchanged sets or clears no cookie, so a browser's cookie stays as it was."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return cookie_secure()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return self.session_class()
        return super().open_session(app, request)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def install(web: Blueprint) -> None:
    web.before_request(_before_request)
    web.after_request(with_security_headers)
    web.after_request(_session_cookie)
    web.context_processor(lambda: {"csrf_token": csrf_token, "current_user": g.get("web_user")})


def _before_request() -> BaseResponse | None:
    if request.endpoint == "web.static":
        return None
    g.web_session, g.web_secret = logged_in_session()
    g.web_user = g.web_session.user if g.web_session is not None else None
    _check_csrf()
    view = current_app.view_functions.get(request.endpoint or "")
    if g.web_user is None and not getattr(view, "web_public", False):
        target = url_for("web.auth.login", next=request.full_path.rstrip("?"))
        if is_htmx():
            return Response(status=401, headers={"HX-Redirect": target})
        return redirect(target)
    return None


def logged_in_session() -> tuple[WebSession | None, str | None]:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None, None
    row = sessions.find(get_session(), secret, lifetimes())
    if row is None:
        g.session_cookie = None  # ended, expired or an old signed cookie: drop it
        return None, None
    return row, secret


def _session_cookie(response: Response) -> Response:
    if "session_cookie" not in g:
        return response
    interface = current_app.session_interface
    path = interface.get_cookie_path(current_app)
    domain = interface.get_cookie_domain(current_app)
    secure = cookie_secure()
    if g.session_cookie is None:
        response.delete_cookie(
            SESSION_COOKIE, path, domain, secure=secure, httponly=True, samesite="Lax"
        )
    else:
        secret, expires = g.session_cookie
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
    response.vary.add("Cookie")
    return response


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    web_session = g.get("web_session")
    expected = web_session.csrf_token if web_session is not None else session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if (
        not isinstance(expected, str)
        or not expected
        or not given
        or not hmac.compare_digest(expected.encode(), given.encode())
    ):
        raise CsrfRefused()


def with_security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.is_secure:
        # Served over https (directly, or by a trusted proxy that says so): browsers keep to it.
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Pages show one person's data: keep them out of shared caches and the disk cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response
