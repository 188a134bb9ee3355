"""Logging in and out, the first-run page, the user's profile and (for admins) the users."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import Conflict, Forbidden, TooManyRequests, Unauthorized
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from marshmallow import ValidationError

from ..auth import service, sessions
from ..auth.schemas import MeUpdateSchema, UserCreateSchema
from .form_messages import worded
from .forms import messages_of, safe_next, text
from .lookups import all_users
from .security import (
    admin_required,
    current_session,
    current_user,
    lifetimes,
    log_in,
    log_out,
    public,
)

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    db = get_session()
    if service.count_users(db) == 0:
        return redirect(url_for("web.auth.setup"))
    next_url = safe_next(request.values.get("next"), url_for("web.today.index"))
    if request.method == "GET" and current_user() is not None:
        return redirect(next_url)
    error, status = None, 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        try:
            user = service.login(
                db,
                text("email"),
                request.form.get("password", ""),
                address=request.remote_addr or "unknown",
            )
        except (Unauthorized, TooManyRequests) as refused:
            error, status = refused.detail, refused.status
            headers = getattr(refused, "headers", {})
        else:
            log_in(user)
            return redirect(next_url)
    page = render_template("auth/login.html", error=error, email=text("email"), next=next_url)
    return page, status, headers


@bp.post("/logout")
def logout() -> Any:
    log_out()
    flash(_("You are logged out."))
    return redirect(url_for("web.auth.login"))


SETUP_BLANKS = {
    "name": _l("Give your name."),
    "email": _l("Give the e-mail address you will log in with."),
}
PROFILE_BLANKS = {
    "name": _l("Give your name."),
    "timezone": _l("Give your time zone, e.g. Europe/Paris."),
}


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup() -> Any:
    """The first run: make the first user, an admin, when there is no user at all."""
    db = get_session()
    if service.count_users(db) > 0:
        return redirect(url_for("web.auth.login"))
    typed = {key: text(key) for key in ("email", "name", "timezone")}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            data = UserCreateSchema().load(
                {**typed, "timezone": typed["timezone"] or "UTC", "password": _password()}
            )
            user = service.create_user(db, **{**data, "is_admin": True}, first_user=True)
        except (ValidationError, Conflict) as error:
            errors = messages_of(error) or {"email": [str(error)]}
            errors = worded(errors, typed, _said(SETUP_BLANKS))
        else:
            log_in(user)
            flash(_("Welcome! You are the first user and an admin. Create a product to start."))
            return redirect(url_for("web.products.index"))
    status = 422 if errors else 200
    return render_template("auth/setup.html", typed=typed, errors=errors), status


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> Any:
    """The user's name, time zone and password, and the browsers they are logged in with.

    A new password needs the current one; it ends the other sessions and, when asked, revokes
    the user's API tokens (``service.update_user``)."""
    user = current_user()
    typed = {"name": user.name, "timezone": user.timezone, "language": user.language or ""}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        typed = {"name": text("name"), "timezone": text("timezone"), "language": text("language")}
        changes: dict[str, Any] = {**typed, "language": typed["language"] or None}
        if request.form.get("password"):
            changes["password"] = _password()
            changes["current_password"] = _password("current_password")
        if request.form.get("revoke_tokens"):
            changes["revoke_tokens"] = True
        try:
            data = MeUpdateSchema().load(changes)
            service.update_user(
                get_session(),
                user,
                data,
                current_session=current_session()[0].id,
                address=request.remote_addr or "unknown",
            )
        except ValidationError as error:
            errors, status = worded(messages_of(error), typed, _said(PROFILE_BLANKS)), 422
        except (Forbidden, TooManyRequests) as refused:
            errors = refused.extra.get("errors") or {"current_password": [refused.detail]}
            status = refused.status
        else:
            flash(_saved_what(data))
            return redirect(url_for("web.auth.profile"))
    rules = lifetimes()
    page = render_template(
        "auth/profile.html",
        typed=typed,
        errors=errors,
        sessions=_session_list(user),
        lifetimes={"idle": _duration(rules.idle), "absolute": _duration(rules.absolute)},
    )
    return page, status


def _saved_what(data: dict[str, Any]) -> str:
    # Whole sentences, each translated as one: the pieces may not join the same way elsewhere.
    if "password" not in data:
        return _("Your profile is saved.")
    if data.get("revoke_tokens"):
        return _(
            "Your profile is saved. Your other sessions have ended and your API tokens are revoked."
        )
    return _("Your profile is saved. Your other sessions have ended.")


@bp.post("/profile/sessions/<int:session_id>/end")
def end_session(session_id: int) -> Any:
    """End one of the user's other sessions (logging out is how this one ends)."""
    if session_id == current_session()[0].id:
        flash(_("To end this session, log out."), "error")
    else:
        sessions.end_users(get_session(), current_user(), session_id)
        flash(_("That session has ended: the browser is logged out."))
    return redirect(url_for("web.auth.profile"))


@bp.post("/profile/sessions/end-others")
def end_other_sessions() -> Any:
    sessions.end_users_others(get_session(), current_user(), keep=current_session()[0].id)
    flash(_("Your other sessions have ended."))
    return redirect(url_for("web.auth.profile"))


def _duration(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours >= 48 and hours % 24 == 0:
        return ngettext("%(num)d day", "%(num)d days", int(hours // 24))
    if hours == int(hours):
        return ngettext("%(num)d hour", "%(num)d hours", int(hours))
    return _("%(hours)s hours", hours=format(hours, "g"))


def _session_list(user: Any) -> list[dict[str, Any]]:
    rules, here = lifetimes(), current_session()[0].id
    return [
        {
            "id": row.id,
            "device": sessions.device(row.user_agent),
            "address": row.address,
            "created_at": row.created_at,
            "last_seen_at": row.last_seen_at,
            "expires_at": rules.expires_at(row),
            "current": row.id == here,
        }
        for row in sessions.live_sessions(get_session(), user, rules)
    ]


NEW_USER_BLANKS = {
    "name": _l("Give the person's name."),
    "email": _l("Give the e-mail address they will log in with."),
}


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users() -> Any:
    db = get_session()
    typed: dict[str, Any] = {key: text(key) for key in ("email", "name", "timezone")}
    typed["is_admin"] = bool(request.form.get("is_admin"))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            data = UserCreateSchema().load(
                {**typed, "timezone": typed["timezone"] or "UTC", "password": _password()}
            )
            user = service.create_user(db, **data)
        except (ValidationError, Conflict) as error:
            errors = messages_of(error) or {"email": [str(error)]}
            errors = worded(errors, typed, _said(NEW_USER_BLANKS))
        else:
            flash(_("%(name)s can now log in as %(email)s.", name=user.name, email=user.email))
            return redirect(url_for("web.auth.users"))
    status = 422 if errors else 200
    page = render_template("auth/users.html", users=all_users(db), typed=typed, errors=errors)
    return page, status


def _said(blanks: dict[str, Any]) -> dict[str, str]:
    """The messages of ``blanks`` in the request's language."""
    return {key: str(text) for key, text in blanks.items()}


def _password(field: str = "password") -> str:
    # Passwords are taken as typed: spaces at either end are part of them.
    value = request.form.get(field, "")
    return value if isinstance(value, str) else ""
