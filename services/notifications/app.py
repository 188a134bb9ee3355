"""The notifications service's app factory: it only assembles the parts."""

from __future__ import annotations

from typing import Any

from cardcrm.core import errors
from cardcrm.core.config import MAX_BODY_BYTES
from cardcrm.proxy import openapi_servers
from flask import Flask, jsonify
from sqlalchemy import text

from .db import close_session
from .runtime import Runtime

API_PREFIX = "/api/v1"


def create_app(settings: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``settings`` (see ``config.from_env``) need ``DATABASE_URL``,
    ``SECRET_KEY`` and ``CORE_URL``. Nothing happens at import time; the schema is made by
    ``cardcrm db upgrade`` (``migrate.upgrade``)."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.update(settings or {})
    app.json.sort_keys = False

    runtime = Runtime.from_settings(app.config)
    app.extensions["cardcrm_notifications"] = runtime
    app.extensions["cardcrm_notifications_core"] = runtime.client()
    app.teardown_appcontext(close_session)

    errors.init_app(app)
    _register_api(app)

    @app.get("/healthz")
    def healthz() -> Any:
        with runtime.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return jsonify(status="ok")

    return app


def _register_api(app: Flask) -> None:
    from .deliveries.views import bp as deliveries
    from .inbox.views import bp as inbox
    from .openapi import build_document
    from .preferences.views import bp as preferences

    for blueprint in (preferences, inbox, deliveries):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)

    document: dict[str, Any] = {}

    @app.get(f"{API_PREFIX}/openapi.json")
    def openapi() -> Any:
        if not document:
            document.update(build_document(app, API_PREFIX))
        # Its paths are relative to where it is reached (/notifications behind nginx or `up`).
        return jsonify({**document, "servers": openapi_servers()})
