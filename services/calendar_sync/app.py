"""The calendar sync service's app factory: it only assembles the parts."""

from __future__ import annotations

from typing import Any

from cardcrm.core.config import MAX_BODY_BYTES
from cardcrm.proxy import openapi_servers
from flask import Flask, jsonify
from sqlalchemy import text

from . import errors
from .api import API_PREFIX
from .context import CalendarContext
from .db import close_session


def create_app(settings: dict[str, Any] | None = None) -> Flask:
    """Build the calendar sync app; ``settings`` as ``config.from_env`` makes them.

    Needs ``DATABASE_URL``, ``CORE_URL`` and ``SECRET_KEY``; ``PUBLIC_URL`` makes feed URLs
    absolute. Nothing happens at import time; the schema is made by ``cardcrm db upgrade``.
    """
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.update(settings or {})
    app.json.sort_keys = False
    context = CalendarContext.from_settings(dict(app.config))
    app.extensions["calendar_sync"] = context
    app.teardown_appcontext(close_session)
    errors.init_app(app)
    _register_api(app)

    @app.get("/healthz")
    def healthz() -> Any:
        with context.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return jsonify(status="ok")

    return app


def _register_api(app: Flask) -> None:
    from .account_views import bp as accounts
    from .feed_views import bp as feeds
    from .feed_views import public
    from .openapi import build_spec

    for blueprint in (feeds, accounts, public):
        app.register_blueprint(blueprint)
    spec: dict[str, Any] = {}

    @app.get(f"{API_PREFIX}/openapi.json")
    def openapi() -> Any:
        if not spec:
            spec.update(build_spec(app))
        # Its paths are relative to where it is reached (/calendar behind nginx or `up`).
        return jsonify({**spec, "servers": openapi_servers()})
