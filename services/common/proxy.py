"""Serving behind a reverse proxy (nginx): the URL a user sees, from the X-Forwarded-* headers.

Behind nginx a sidecar gets ``/feeds/...`` for the user's ``/calendar/feeds/...``, from
127.0.0.1, over plain HTTP. With ``CARDCRM_TRUSTED_PROXIES=N`` (``cardcrm serve
--trusted-proxies N``: the number of proxies in front, usually 1) werkzeug's ``ProxyFix`` takes
the client's address, the scheme, the host and the path prefix from the values the last N
proxies set in ``X-Forwarded-For``, ``-Proto``, ``-Host`` and ``-Prefix``, so what the service
builds from the request (feed URLs, its OpenAPI document's server) is what the user reaches.
With 0, the default, those headers are ignored: anyone reaching gunicorn directly could forge
them.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix

ENV_VAR = "CARDCRM_TRUSTED_PROXIES"


def behind_proxies(app: Any, count: int) -> Any:
    """The WSGI app ``app`` trusting the forwarded headers of ``count`` proxies (0: none)."""
    if count <= 0:
        return app
    return ProxyFix(app, x_for=count, x_proto=count, x_host=count, x_prefix=count)


def openapi_servers() -> list[dict[str, str]]:
    """An OpenAPI document's ``servers``: where this service is reached (``/calendar`` behind
    nginx or under ``cardcrm up``), relative to the host the document was fetched from."""
    return [{"url": request.script_root or "/"}]
