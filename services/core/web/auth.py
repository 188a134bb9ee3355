"""Logging in and out, the first-run page, the user's profile and (for admins) the users."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import Conflict, TooManyRequests, Unauthorized
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from marshmallow import ValidationError

from ..auth import service
from ..auth.schemas import MeUpdateSchema, UserCreateSchema
from .forms import messages_of, safe_next, text
from .lookups import all_users
from .security import admin_required, current_user, log_in, log_out, public

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
    token_id = session.get("api_token_id")
    if isinstance(token_id, int):
        from .quick_access import revoke_browser_token

        revoke_browser_token(token_id)
    log_out()
    flash("You are logged out.")
    return redirect(url_for("web.auth.login"))


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
        else:
            log_in(user)
            flash("Welcome! You are the first user and an admin. Create a product to start.")
            return redirect(url_for("web.products.index"))
    status = 422 if errors else 200
    return render_template("auth/setup.html", typed=typed, errors=errors), status


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> Any:
    user = current_user()
    typed = {"name": user.name, "timezone": user.timezone}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        typed = {"name": text("name"), "timezone": text("timezone")}
        changes: dict[str, Any] = dict(typed)
        if request.form.get("password"):
            changes["password"] = _password()
        try:
            data = MeUpdateSchema().load(changes)
            new_password = "password" in data
            user = service.update_user(get_session(), user, data)
        except ValidationError as error:
            errors = messages_of(error)
        else:
            if new_password:
                log_in(user)  # the new password hash makes a new session fingerprint
            flash("Your profile is saved.")
            return redirect(url_for("web.auth.profile"))
    status = 422 if errors else 200
    return render_template("auth/profile.html", typed=typed, errors=errors), status


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
        else:
            flash(f"{user.name} can now log in as {user.email}.")
            return redirect(url_for("web.auth.users"))
    status = 422 if errors else 200
    page = render_template("auth/users.html", users=all_users(db), typed=typed, errors=errors)
    return page, status


def _password() -> str:
    # Passwords are taken as typed: spaces at either end are part of them.
    value = request.form.get("password", "")
    return value if isinstance(value, str) else ""
