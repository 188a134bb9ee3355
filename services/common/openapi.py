"""A service's OpenAPI document, generated from the operations its blueprints declare.

Paths are read from the app's URL map, so the document names each operation where it is
served; what the service promises beyond its operations (idempotency, ``If-Match``, the
errors of authenticated calls) comes from its ``ApiService``.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from .. import __version__
from .api import MAX_ID, Operation, api_blueprints
from .schema_fields import Instant
from .service import ApiService

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
    409: "Conflicts with the current state",
    412: "Stale If-Match: the resource changed",
    413: "Body over 1 MiB",
    422: "Invalid fields (see errors)",
    429: "Too many attempts: wait the seconds Retry-After gives",
    503: "Core (which checks tokens) is unreachable, or the service is catching up",
}
PATH_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def build_spec(app: Flask, service: ApiService) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s operations."""
    marshmallow_plugin = MarshmallowPlugin()
    spec = APISpec(
        title=service.title,
        version=__version__,
        openapi_version="3.1.0",
        plugins=[marshmallow_plugin],
        info={"description": service.description},
    )
    marshmallow_plugin.map_to_openapi_type(Instant, "string", "date-time")  # type: ignore[no-untyped-call]
    for field_class, (kind, format_) in service.field_types.items():
        marshmallow_plugin.map_to_openapi_type(field_class, kind, format_)  # type: ignore[no-untyped-call]
    spec.components.schema("Problem", PROBLEM)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    paths: dict[str, dict[str, Any]] = {}
    for blueprint in api_blueprints(app):
        for operation in blueprint.operations:
            for rule in app.url_map.iter_rules(operation.endpoint):
                path = PATH_PARAMETER.sub(r"{\2}", rule.rule)
                paths.setdefault(path, {})[operation.method.lower()] = _operation(
                    operation, service
                )
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


def _operation(operation: Operation, service: ApiService) -> dict[str, Any]:
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
    if operation.scope:
        # Which scope a service token needs here (itself, or acting for a user).
        result["x-service-scope"] = operation.scope
    path_ids = PATH_PARAMETER.findall(operation.rule)
    parameters: list[dict[str, Any]] = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "schema": (
                {"type": "integer", "minimum": 0, "maximum": MAX_ID}
                if converter == "int"
                else {"type": "string"}
            ),
        }
        for converter, name in path_ids
    ]
    if operation.query:
        parameters.append({"in": "query", "schema": operation.query})
    for name, text in (operation.extra_query or {}).items():
        parameters.append(
            {"in": "query", "name": name, "schema": {"type": "string"}, "description": text}
        )
    if service.conditional_writes and (
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
    idempotent = service.idempotency is not None and operation.method == "POST"
    if idempotent and operation.auth:
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
    for code, text in (operation.other_responses or {}).items():
        result["responses"][str(code)] = {"description": text}
    codes = set(operation.errors) | {400, 413} if operation.body else set(operation.errors)
    if path_ids:
        codes |= {404}  # no such id (or not visible to the caller)
    if operation.auth:
        codes |= set(service.auth_errors)
    if operation.query or operation.body:
        codes |= {422}
    if idempotent and operation.auth:
        codes |= {400, 409, 422}  # a malformed, reused or lost Idempotency-Key
    problem = {"$ref": "#/components/schemas/Problem"}
    texts = dict(ERROR_TEXT)
    if service.idempotency is not None:
        texts[409] += " (or an Idempotency-Key whose answer was lost)"
    texts.update(service.error_texts)
    for code in sorted(codes):
        result["responses"][str(code)] = {
            "description": texts.get(code, "Error"),
            "content": {"application/problem+json": {"schema": problem}},
        }
    return result
