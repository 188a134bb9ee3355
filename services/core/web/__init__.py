"""The web UI: server-rendered pages of the core service, with htmx for in-place updates.

Views parse forms and render templates; every rule lives in the same service functions the
JSON API calls. One blueprint per feature, all nested in the ``web`` blueprint, whose hooks
(login, CSRF, security headers, HTML error pages) apply to web pages only, never to /api/v1.
"""

from __future__ import annotations

from cardcrm.common.errors import http_error
from flask import Blueprint, Flask


def init_app(app: Flask) -> None:
    """Register the web UI's blueprints on the core app."""
    from . import (
        auth,
        card_contacts,
        cards,
        contacts,
        csv_pages,
        display,
        errors,
        files,
        forms,
        language,
        mail,
        notes,
        notification_settings,
        product_settings,
        products,
        pwa,
        quick_access,
        reports,
        script_messages,
        search,
        security,
        tasks,
        timeline,
        today,
        trash,
        well_known,
    )

    web = Blueprint(
        "web",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/assets",
    )
    security.install(web)
    pwa.install(web)
    web.before_request(forms.refuse_control_characters)
    app.session_interface = security.FlashCookieInterface()
    errors.install(web)
    display.install(web)
    web.add_app_template_global(script_messages.script_messages, "script_messages")
    for feature in (
        auth.bp,
        today.bp,
        tasks.bp,
        products.bp,
        product_settings.bp,
        cards.bp,
        notes.bp,
        contacts.bp,
        csv_pages.bp,
        files.bp,
        quick_access.bp,
        search.bp,
        trash.bp,
        notification_settings.bp,
        reports.bp,
        mail.bp,
        timeline.bp,
        card_contacts.bp,
        pwa.bp,
        language.bp,
    ):
        web.register_blueprint(feature)
    app.register_blueprint(web)
    app.register_blueprint(well_known.bp)
    errors.install_unmatched(app, http_error)
