"""The core service's app factory: it only assembles the parts."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text

from . import errors, events, idempotency, web
from .api import ApiBlueprint
from .config import MAX_BODY_BYTES
from .db import Database, get_db
from .plugins import get_plugin_manager, parse_module_list

API_PREFIX = "/api/v1"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the core app; ``config`` needs at least ``DATABASE_URL``.

    Optional keys: ``SECRET_KEY``, ``PUBLIC_URL``, ``PLUGINS`` (comma-separated module names
    or a list of modules/objects), ``PLUGINS_DIR``, ``PLUGIN_ENTRY_POINTS`` (default true).
    Nothing happens at import time; the database schema is made by ``cardcrm db upgrade``.
    """
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    # The web UI's session cookie (the API never reads it); Secure when served over https.
    app.config.update(
        SESSION_COOKIE_NAME="cardcrm_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=str((config or {}).get("PUBLIC_URL", "")).startswith("https://"),
    )
    app.config.update(config or {})
    app.json.sort_keys = False  # keep the schemas' field order

    modules = app.config.get("PLUGINS") or []
    if isinstance(modules, str):
        modules = parse_module_list(modules)
    plugins = get_plugin_manager(
        modules,
        plugins_dir=app.config.get("PLUGINS_DIR"),
        entry_points=app.config.get("PLUGIN_ENTRY_POINTS", True),
    )
    app.extensions["cardcrm_plugins"] = plugins

    database = Database(app.config["DATABASE_URL"])
    database.init_app(app)
    notifier = events.EventNotifier()
    app.extensions["cardcrm_events"] = notifier
    events.install(database.sessionmaker, plugins, notifier)
    idempotency.install(database.sessionmaker)

    errors.init_app(app)
    _register_api(app)
    web.init_app(app)

    @app.get("/healthz")
    def healthz() -> Any:
        with get_db().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return jsonify(status="ok")

    return app


def _register_api(app: Flask) -> None:
    from .auth.views import bp as auth
    from .cards.views import bp as cards
    from .contacts.views import bp as contacts
    from .csv_io.views import bp as csv_io
    from .events.views import bp as events
    from .openapi import build_spec
    from .products.views import bp as products
    from .quick_access.views import bp as quick_access
    from .tasks.views import bp as tasks
    from .today import bp as today

    blueprints: list[ApiBlueprint] = [
        auth,
        products,
        cards,
        tasks,
        today,
        quick_access,
        contacts,
        csv_io,
        events,
    ]
    for blueprint in blueprints:
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)

    spec: dict[str, Any] = {}

    @app.get(f"{API_PREFIX}/openapi.json")
    def openapi() -> Any:
        if not spec:
            spec.update(build_spec(app, API_PREFIX))
        return jsonify(spec)
