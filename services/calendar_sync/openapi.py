"""The calendar sync service's OpenAPI document, from the operations its blueprints declare."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from cardcrm.core.api import MAX_ID
from cardcrm.core.schema_fields import Instant
from flask import Flask

from .. import __version__
from .api import ApiBlueprint, Operation

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["type", "title", "status", "detail"],
}
ERROR_TEXT = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "No valid bearer token",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Body over 1 MiB",
    422: "Invalid fields (see errors)",
    503: "Core (which checks tokens) is unreachable, or the service is catching up",
}


def build_spec(app: Flask) -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="cardcrm calendar sync",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": "iCal feeds of each user's tasks and two-way CalDAV sync."},
    )
    plugin.map_to_openapi_type(Instant, "string", "date-time")
    spec.components.schema("Problem", PROBLEM)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    paths: dict[str, dict[str, Any]] = {}
    for blueprint in app.blueprints.values():
        if isinstance(blueprint, ApiBlueprint):
            base = blueprint.url_prefix or ""
            for operation in blueprint.operations:
                path = base + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", operation.rule)
                paths.setdefault(path, {})[operation.method.lower()] = _operation(operation)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    document["paths"]["/healthz"] = {
        "get": {
            "summary": "Liveness and database check",
            "responses": {"200": {"description": "Up"}},
        }
    }
    feed = document["paths"].get("/feeds/{token}.ics", {}).get("get")
    if feed:
        feed["responses"]["200"]["content"] = {"text/calendar": {"schema": {"type": "string"}}}
        feed["responses"]["304"] = {
            "description": "Not modified (If-None-Match or If-Modified-Since)"
        }
        feed["parameters"][0]["schema"] = {"type": "string"}
    return document


def _operation(operation: Operation) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": operation.endpoint.replace(".", "_"),
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": {},
    }
    if operation.description:
        result["description"] = operation.description
    if operation.auth:
        result["security"] = [{"bearer": []}]
    path_ids = re.findall(r"<(?:\w+:)?(\w+)>", operation.rule)
    parameters: list[dict[str, Any]] = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        }
        for name in path_ids
    ]
    if operation.query:
        parameters.append({"in": "query", "schema": operation.query})
    if parameters:
        result["parameters"] = parameters
    if operation.body:
        result["requestBody"] = {
            # An empty body reads as {}: needed only when the schema requires a field.
            "required": any(field.required for field in operation.body().fields.values()),
            "content": {"application/json": {"schema": operation.body}},
        }
    success: dict[str, Any] = {"description": "Success"}
    if operation.response:
        schema: Any = operation.response
        if operation.many:
            schema = {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": operation.response},
                    "next_cursor": {"type": ["string", "null"]},
                },
                "required": ["items", "next_cursor"],
            }
        success["content"] = {"application/json": {"schema": schema}}
    result["responses"][str(operation.status)] = success
    codes = set(operation.errors)
    if path_ids:
        codes |= {404}  # no such id (or not the caller's)
    if operation.body:
        codes |= {400, 413, 422}
    if operation.query:
        codes |= {422}
    if operation.auth:
        codes |= {401, 503}
    problem = {"$ref": "#/components/schemas/Problem"}
    for code in sorted(codes):
        result["responses"][str(code)] = {
            "description": ERROR_TEXT.get(code, "Error"),
            "content": {"application/problem+json": {"schema": problem}},
        }
    return result
