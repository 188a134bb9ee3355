"""The OpenAPI document, generated from the operations the blueprints declare."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from .. import __version__
from .api import MAX_ID, ApiBlueprint, Operation
from .schema_fields import Instant
from .tasks.schemas import Deadline

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "description": "The invalid fields, each with its messages (a nested one's led "
            "by its path: `freq: ...`); a CSV import lists its bad rows instead.",
            "anyOf": [
                {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "line": {"type": "integer"},
                            "message": {"type": "string"},
                        },
                        "required": ["line", "message"],
                    },
                },
            ],
        },
    },
    "required": ["type", "title", "status", "detail"],
}
ERROR_TEXT = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "No valid bearer token",
    403: "Not allowed",
    404: "Not found",
    409: "Conflicts with the current state (or an Idempotency-Key whose answer was lost)",
    412: "Stale If-Match: the resource changed",
    413: "Body over 1 MiB",
    422: "Invalid fields (see errors)",
    429: "Too many attempts: wait the seconds Retry-After gives",
}


def build_spec(app: Flask, prefix: str = "/api/v1") -> dict[str, Any]:
    marshmallow_plugin = MarshmallowPlugin()
    spec = APISpec(
        title="cardcrm core",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[marshmallow_plugin],
        info={"description": "Products, statuses, cards, tasks and the Today view."},
    )
    marshmallow_plugin.map_to_openapi_type(Instant, "string", "date-time")
    marshmallow_plugin.map_to_openapi_type(Deadline, "string", None)
    spec.components.schema("Problem", PROBLEM)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    paths: dict[str, dict[str, Any]] = {}
    for blueprint in app.blueprints.values():
        if isinstance(blueprint, ApiBlueprint):
            for operation in blueprint.operations:
                path = prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", operation.rule)
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
    for name, text in (operation.extra_query or {}).items():
        parameters.append(
            {"in": "query", "name": name, "schema": {"type": "string"}, "description": text}
        )
    if (
        operation.etag
        or operation.method in ("PATCH", "DELETE")
        or operation.rule.endswith(("/close", "/reopen", "/postpone"))
    ):
        parameters.append(
            {
                "in": "header",
                "name": "If-Match",
                "schema": {"type": "string"},
                "description": "The ETag the change was made against; a stale one gets 412.",
            }
        )
    if operation.method == "POST" and operation.auth:
        parameters.append(
            {
                "in": "header",
                "name": "Idempotency-Key",
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": (
                    "Sent again with the same key (within 24 hours), the request is done once "
                    "and its first answer given back (with `Idempotent-Replayed: true`)."
                ),
            }
        )
    if parameters:
        result["parameters"] = parameters
    if operation.body:
        result["requestBody"] = {
            # An empty body reads as {}: needed only when the schema requires a field.
            "required": any(field.required for field in operation.body().fields.values()),
            "content": {"application/json": {"schema": operation.body}},
        }
    elif operation.raw_body:
        result["requestBody"] = {"required": True, "content": operation.raw_body}
    success: dict[str, Any] = {"description": "Success"}
    if operation.raw_response:
        success["content"] = {operation.media_type: {"schema": operation.raw_response}}
    elif operation.response:
        schema: Any = operation.response
        if operation.paginated:
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
    codes = set(operation.errors) | {400, 413} if operation.body else set(operation.errors)
    if path_ids:
        codes |= {404}  # no such id (or not visible to the caller)
    if operation.auth:
        codes |= {401}
    if operation.auth:
        codes |= {403}  # admins' operations, or a service token where a user is needed
    if operation.query or operation.body:
        codes |= {422}
    if operation.method == "POST" and operation.auth:
        codes |= {400, 409, 422}  # a malformed, reused or lost Idempotency-Key
    problem = {"$ref": "#/components/schemas/Problem"}
    for code in sorted(codes):
        result["responses"][str(code)] = {
            "description": ERROR_TEXT.get(code, "Error"),
            "content": {"application/problem+json": {"schema": problem}},
        }
    return result
