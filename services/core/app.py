"""The core service's app factory: it only assembles the parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cardcrm.common import errors, i18n, shutdown
from cardcrm.common.api import API_PREFIX, api_blueprints
from cardcrm.common.app import install_api
from cardcrm.common.config import MAX_BODY_BYTES
from cardcrm.common.db import Database
from cardcrm.common.idempotency import IdempotencyStore
from cardcrm.common.service import ApiService
from flask import Flask, g

from . import answers, events, web
from .auth.scopes import SCOPES
from .auth.service import Principal, attach_caller, authenticate, authorize
from .auth.sessions import Lifetimes
from .auth.views import bp as auth_api
from .base import IdempotencyKey
from .cards.views import bp as cards_api
from .contacts.views import bp as contacts_api
from .csv_io.views import bp as csv_io_api
from .events.listen import EventListener
from .events.views import bp as events_api
from .files.storage import get_storage
from .files.views import bp as files_api
from .mail.views import bp as mail_api
from .notes.views import bp as notes_api
from .plugins import get_plugin_manager
from .products.views import bp as products_api
from .quick_access.views import bp as quick_access_api
from .reports.views import bp as reports_api
from .search.views import bp as search_api
from .tasks.schemas import Deadline
from .tasks.views import bp as tasks_api
from .timeline.views import bp as timeline_api
from .today import bp as today_api


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the core app; ``config`` needs at least ``DATABASE_URL``.

    Optional keys: ``SECRET_KEY``, ``PUBLIC_URL``, ``PLUGINS`` (comma-separated module names
    or a list of modules/objects), ``PLUGINS_DIR``, ``PLUGIN_ENTRY_POINTS`` (default true),
    ``SESSION_IDLE_HOURS`` and ``SESSION_MAX_DAYS`` (web sessions' lifetimes),
    ``EVENTS_POLL_SECONDS`` (how often a waiting long-poll of the event feed looks at the
    database when nothing wakes it; 0.5), ``SERVER_THREADS`` (the threads of the server's
    process, set by ``cardcrm serve`` and ``up``: half of them at most wait in the feed's
    long-polls; no limit when not set), ``FILES_DIR`` and ``MAX_UPLOAD_BYTES`` (card files).
    Nothing happens at import time; the database schema is made by ``cardcrm db upgrade``.
    """
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    # Flask's signed cookie carries only one-time messages and the login form's CSRF token;
    # who is logged in is the server-side session (web/security.py). Secure over https.
    app.config.update(
        SESSION_COOKIE_NAME="cardcrm_flash",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=str((config or {}).get("PUBLIC_URL", "")).startswith("https://"),
    )
    app.config.update(config or {})
    Lifetimes.of(app.config)  # refuse nonsense lifetimes now, not at the first login
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the schemas' field order

    plugins = get_plugin_manager(
        app.config.get("PLUGINS") or [],
        plugins_dir=app.config.get("PLUGINS_DIR"),
        entry_points=app.config.get("PLUGIN_ENTRY_POINTS", True),
    )
    app.extensions["cardcrm_plugins"] = plugins

    answers.install(app)
    database = Database(app.config["DATABASE_URL"])
    database.init_app(app)
    database.session_made.append(attach_caller)
    threads = app.config.get("SERVER_THREADS")
    notifier = events.EventNotifier(max_waiting=max(1, threads // 2) if threads else None)
    app.extensions["cardcrm_events"] = notifier
    events.install(database.sessions, plugins, notifier)
    shutdown.on_stop(notifier.stop)
    if database.dialect == "postgresql":
        listener = EventListener(database.engine, notifier)
        app.extensions["cardcrm_event_listener"] = listener
        shutdown.on_stop(listener.close)
    idempotency = IdempotencyStore(IdempotencyKey, caller_name)
    idempotency.install(database.sessions)

    get_storage(app)  # a plugin's storage that cannot be made stops the start, not an upload
    errors.init_app(app)
    _register_api(app, idempotency)
    web.init_app(app)
    i18n.install(app, translation_directories(plugins), user_language=profile_language)

    return app


def translation_directories(plugins: Any) -> list[Path]:
    """Core's catalogues, then those the plugins add (``cardcrm_translation_directories``)."""
    found = [Path(__file__).parent / "translations"]
    for folders in plugins.hook.cardcrm_translation_directories():
        for folder in folders or []:
            # Plugins of one package share a folder (the four built-in templates do): once.
            if Path(folder).resolve() not in {known.resolve() for known in found}:
                found.append(Path(folder))
    return found


def profile_language() -> str | None:
    """The language in the profile of whoever is signed in (web session or API token)."""
    user = g.get("web_user")
    if user is None and g.get("principal") is not None:
        user = g.principal.user
    return user.language if user is not None else None


def caller_name(principal: Principal) -> str:
    """Whose idempotency keys these are: a user's, or a service's."""
    return f"user:{principal.user.id}" if principal.user else f"service:{principal.service}"


def _register_api(app: Flask, idempotency: IdempotencyStore) -> None:
    for blueprint in (
        auth_api,
        products_api,
        cards_api,
        timeline_api,
        tasks_api,
        today_api,
        quick_access_api,
        reports_api,
        contacts_api,
        notes_api,
        csv_io_api,
        mail_api,
        events_api,
        search_api,
        files_api,
    ):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
    for blueprint in api_blueprints(app):
        for operation in blueprint.operations:
            if operation.scope is not None and operation.scope not in SCOPES:
                raise ValueError(f"{operation.endpoint}: no scope {operation.scope!r}")
    install_api(
        app,
        ApiService(
            title="cardcrm core",
            description="Products, statuses, cards, tasks and the Today view.",
            authenticate=authenticate,
            authorize=authorize,
            levels=("user", "admin", "events"),
            idempotency=idempotency,
            conditional_writes=True,
            auth_errors=(401, 403),  # 403: admins' operations, or a service token for a user's
            field_types={Deadline: ("string", None)},
            error_texts={
                413: "Body over 1 MiB; a CSV import's file over CARDCRM_CSV_MAX_MB"
                " or CARDCRM_CSV_MAX_ROWS rows; an uploaded file over CARDCRM_MAX_UPLOAD_MB"
            },
        ),
        API_PREFIX,
    )
