"""Who is logged in, the CSRF check, and the security headers of the web UI's responses.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax; configured in app.py). It holds
the user's id, a fingerprint of their password hash (changing the password logs out every
other session) and a random CSRF token. Every unsafe request to a web page must send that
token back, as the ``csrf_token`` form field or the ``X-CSRF-Token`` header (htmx sends the
header, set once on <body>). The JSON API never reads this cookie, so it needs no token.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import Forbidden
from flask import Blueprint, Response, current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..auth.models import User

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
            "The form's security token is missing or out of date. Reload the page and try again."
        )


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that anonymous visitors may see (log in, first run)."""
    view.web_public = True  # type: ignore[attr-defined]
    return view


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not g.web_user.is_admin:
            raise Forbidden("Only admins may do this.")
        return view(*args, **kwargs)

    return wrapped


def current_user() -> User:
    return g.web_user


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def log_in(user: User) -> None:
    # A new session on login: nothing set before it (e.g. by someone else) survives.
    session.clear()
    session["user_id"] = user.id
    session["auth"] = _fingerprint(user)
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True
    g.web_user = user


def log_out() -> None:
    session.clear()
    g.web_user = None


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def install(web: Blueprint) -> None:
    web.before_request(_before_request)
    web.after_request(_security_headers)
    web.context_processor(lambda: {"csrf_token": csrf_token, "current_user": g.get("web_user")})


def _before_request() -> BaseResponse | None:
    if request.endpoint == "web.static":
        return None
    g.web_user = _logged_in_user()
    _check_csrf()
    view = current_app.view_functions.get(request.endpoint or "")
    if g.web_user is None and not getattr(view, "web_public", False):
        target = url_for("web.auth.login", next=request.full_path.rstrip("?"))
        if is_htmx():
            return Response(status=401, headers={"HX-Redirect": target})
        return redirect(target)
    return None


def _logged_in_user() -> User | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = get_session().get(User, user_id)
    fingerprint = session.get("auth")
    if (
        user is None
        or not isinstance(fingerprint, str)
        or not hmac.compare_digest(fingerprint.encode(), _fingerprint(user).encode())
    ):
        session.pop("user_id", None)
        return None
    return user


def _fingerprint(user: User) -> str:
    key = str(current_app.secret_key or "").encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if (
        not isinstance(expected, str)
        or not expected
        or not given
        or not hmac.compare_digest(expected.encode(), given.encode())
    ):
        raise CsrfRefused()


def _security_headers(response: Response) -> Response:
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
