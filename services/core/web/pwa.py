"""The installable app: the web app manifest, the service worker and whose pages it may keep.

The service worker (``static/sw.js``) is served at ``/sw.js`` so that its scope is the whole
site. Its cache of static assets is named after a digest of the static folder, so a new release
(any changed asset) installs a new worker that drops the old cache: assets can be served
cache-first although their URLs carry no version. Every page tells the worker whose it is
(``X-Cardcrm-Page-Owner``, an HMAC of the user id, not the id): a page of someone else, or a
page of nobody (logged out), makes the worker forget every page it kept.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, url_for
from flask_babel import gettext as _

from .security import public

bp = Blueprint("pwa", __name__)

STATIC = Path(__file__).resolve().parent / "static"
OWNER_HEADER = "X-Cardcrm-Page-Owner"
THEME_COLOUR = "#1d2430"  # the header's ink
BACKGROUND_COLOUR = "#f4f6f9"  # the page's ground


def install(web: Blueprint) -> None:
    web.after_request(_mark_page_owner)


@bp.get("/manifest.webmanifest")
@public
def manifest() -> Any:
    def icon(name: str, size: int, purpose: str = "any") -> dict[str, str]:
        return {
            "src": url_for("web.static", filename=f"icons/{name}"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": purpose,
        }

    body = {
        "name": "cardcrm",
        "short_name": "cardcrm",
        "description": _("Cards, tasks and the Today view of your team's processes."),
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            icon("icon-192.png", 192),
            icon("icon-512.png", 512),
            icon("icon-maskable-512.png", 512, "maskable"),
        ],
    }
    response = current_app.json.response(body)
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/sw.js")
@public
def service_worker() -> Response:
    script = (STATIC / "sw.js").read_text(encoding="utf-8")
    script = script.replace("__ASSETS_VERSION__", assets_version())
    script = script.replace("__ASSET_URLS__", json.dumps(asset_urls()))
    response = Response(script, mimetype="text/javascript")
    # Browsers check for a new worker at most once a day anyway; never keep an old one longer.
    response.headers["Cache-Control"] = "no-cache"
    return response


@functools.cache
def assets_version() -> str:
    """A digest of every static file: it changes whenever an asset does."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file() and path.name != "sw.js":
            digest.update(str(path.relative_to(STATIC)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def asset_urls() -> list[str]:
    """What the worker keeps when it installs: the scripts, styles and icons of every page."""
    return [
        url_for("web.static", filename=path.relative_to(STATIC).as_posix())
        for path in sorted(STATIC.rglob("*"))
        if path.is_file() and path.suffix in {".js", ".css", ".png"} and path.name != "sw.js"
    ]


def page_owner(user_id: int) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"page-owner:{user_id}".encode(), hashlib.sha256).hexdigest()[:24]


def _mark_page_owner(response: Any) -> Any:
    user = g.get("web_user")
    if user is not None and response.mimetype == "text/html":
        response.headers[OWNER_HEADER] = page_owner(user.id)
    return response
