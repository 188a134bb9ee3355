"""The calendar sync service's app factory: it only assembles the parts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cardcrm.common import errors
from cardcrm.common.app import install_api
from cardcrm.common.config import MAX_BODY_BYTES
from cardcrm.common.i18n import install as install_languages
from cardcrm.common.service import ApiService
from cardcrm.sidecar.auth import authenticate
from cardcrm.sidecar.follower import feed_health
from flask import Flask, g
from flask.sessions import SecureCookieSessionInterface

from .account_views import bp as accounts_api
from .app_password_views import bp as app_passwords_api
from .context import TRANSLATIONS, CalendarContext
from .dav import bp as dav_server
from .feed_views import bp as feeds_api
from .feed_views import public as public_api
from .models import EventCursor


def create_app(settings: dict[str, Any] | None = None) -> Flask:
    """Build the calendar sync app; ``settings`` as ``config.from_env`` makes them.

    Needs ``DATABASE_URL``, ``CORE_URL`` and ``SECRET_KEY``; ``PUBLIC_URL`` makes feed URLs
    absolute. Nothing happens at import time; the schema is made by ``cardcrm db upgrade``.
    """
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.update(settings or {})
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = _NoSessions()
    context = CalendarContext.from_settings(dict(app.config))
    app.extensions["calendar_sync"] = context
    app.extensions["cardcrm_core_client"] = context.core
    context.database.init_app(app)
    errors.init_app(app)
    install_languages(app, [TRANSLATIONS], user_language=_caller_language)
    _register_api(app, lambda: feed_health(context.database.writer, EventCursor))
    # The CalDAV server speaks WebDAV's XML, not the JSON API: no OpenAPI operations.
    app.register_blueprint(dav_server)

    return app


class _NoSessions(SecureCookieSessionInterface):
    """No Flask session: the service has no pages and never uses one, and opening the cookie
    session makes a signing serializer on every request (a tenth of a feed's 304)."""

    def open_session(self, app: Flask, request: Any) -> None:
        return None  # Flask then gives the request a null session


def _caller_language() -> str | None:
    """The signed-in caller's profile language (core's ``/me`` says it), if any."""
    user = g.get("sidecar_user")
    return user.get("language") if user else None


def _register_api(app: Flask, health: Callable[[], dict[str, Any]]) -> None:
    for blueprint in (feeds_api, accounts_api, app_passwords_api, public_api):
        app.register_blueprint(blueprint)
    install_api(
        app,
        ApiService(
            title="cardcrm calendar sync",
            description="iCal feeds of each user's tasks and two-way CalDAV sync.",
            authenticate=authenticate,
            auth_errors=(401, 503),
            relative_servers=True,
            health=health,
        ),
    )
