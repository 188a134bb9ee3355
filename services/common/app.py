"""What every service's ``create_app`` does alike: install its API (the OpenAPI document and
the health check beside its operations)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json
from sqlalchemy import text

from .api import API_PREFIX, JSON_MIMETYPE, api_blueprints
from .db import get_db
from .openapi import build_spec
from .proxy import openapi_servers
from .service import ApiService


def install_api(app: Flask, service: ApiService, prefix: str = API_PREFIX) -> None:
    """Make ``service`` the API of ``app``, serve its OpenAPI document at
    ``{prefix}/openapi.json`` and the health check at ``/healthz`` (it asks the database);
    call after registering the app's ``ApiBlueprint``s and its ``Database``."""
    for blueprint in api_blueprints(app):
        for operation in blueprint.operations:
            if operation.auth is not None and operation.auth not in service.levels:
                raise ValueError(
                    f"{operation.endpoint}: this service has no level {operation.auth!r}"
                )
    app.extensions["cardcrm_api"] = service
    document: dict[str, Any] = {}

    def openapi() -> Response:
        if not document:
            document.update(build_spec(app, service))
        served = (
            {**document, "servers": openapi_servers()} if service.relative_servers else document
        )
        return Response(json.dumps(served), mimetype=JSON_MIMETYPE)

    def healthz() -> Response:
        with get_db().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        answer = {"status": "ok", **(service.health() if service.health else {})}
        return Response(json.dumps(answer), mimetype=JSON_MIMETYPE)

    app.add_url_rule(f"{prefix}/openapi.json", "openapi", openapi)
    app.add_url_rule("/healthz", "healthz", healthz)
