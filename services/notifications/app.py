"""The notifications service's app factory: it only assembles the parts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cardcrm.common import errors
from cardcrm.common.api import API_PREFIX
from cardcrm.common.app import install_api
from cardcrm.common.config import MAX_BODY_BYTES
from cardcrm.common.i18n import install as install_languages
from cardcrm.common.idempotency import IdempotencyStore
from cardcrm.common.service import ApiService
from cardcrm.sidecar.auth import authenticate, caller_name
from cardcrm.sidecar.follower import feed_health
from flask import Flask, g

from .context import TRANSLATIONS, NotificationsContext
from .deliveries.views import bp as deliveries_api
from .events import EventCursor
from .inbox.views import bp as inbox_api
from .models import IdempotencyKey
from .preferences.verify_page import public as verification_pages
from .preferences.views import bp as preferences_api

DESCRIPTION = (
    "Preferences, the in-app inbox and the delivery log of cardcrm's notifications. "
    "Bearer tokens are core's user tokens; under `cardcrm up` the paths are below "
    "`/notifications`."
)


def create_app(settings: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``settings`` (see ``config.from_env``) need ``DATABASE_URL``,
    ``SECRET_KEY`` and ``CORE_URL``. Nothing happens at import time; the schema is made by
    ``cardcrm db upgrade`` (``migrate.upgrade``)."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.update(settings or {})
    app.json.sort_keys = False  # type: ignore[attr-defined]

    context = NotificationsContext.from_settings(app.config)
    app.extensions["cardcrm_notifications"] = context
    app.extensions["cardcrm_core_client"] = context.client()
    context.db.init_app(app)
    idempotency = IdempotencyStore(IdempotencyKey, caller_name)
    idempotency.install(context.db.sessions)

    errors.init_app(app)
    install_languages(app, [TRANSLATIONS], user_language=_caller_language)
    _register_api(app, idempotency, lambda: feed_health(context.db.writer, EventCursor))

    return app


def _caller_language() -> str | None:
    """The signed-in caller's profile language (core's ``/me`` says it), if any."""
    user = g.get("sidecar_user")
    return user.get("language") if user else None


def _register_api(
    app: Flask, idempotency: IdempotencyStore, health: Callable[[], dict[str, Any]]
) -> None:
    for blueprint in (preferences_api, inbox_api, deliveries_api):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
    app.register_blueprint(verification_pages)  # the links in e-mails: not under /api/v1
    install_api(
        app,
        ApiService(
            title="cardcrm notifications",
            description=DESCRIPTION,
            authenticate=authenticate,
            idempotency=idempotency,
            auth_errors=(401, 503),
            relative_servers=True,
            health=health,
        ),
    )
