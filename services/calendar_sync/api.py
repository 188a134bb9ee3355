"""Declaring an API operation once: route, caller, schemas and its OpenAPI description.

The caller is identified as in every sidecar: core says who owns the bearer token
(``GET /api/v1/me``, cached briefly by the core client).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cardcrm.core.api import IdConverter
from cardcrm.sidecar.core_client import CoreError
from flask import Blueprint, Response, current_app, json, request
from marshmallow import EXCLUDE, RAISE, Schema

from .errors import BadRequest, CoreUnreachable, Unauthorized

JSON_MIMETYPE = "application/json"
API_PREFIX = "/api/v1"


@dataclass
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    description: str
    tag: str
    auth: bool
    body: type[Schema] | None
    query: type[Schema] | None
    response: type[Schema] | None
    status: int
    many: bool
    errors: tuple[int, ...]


class ApiBlueprint(Blueprint):
    """A blueprint whose views are declared with ``operation`` (one feature per blueprint)."""

    def __init__(self, name: str, import_name: str, tag: str, **options: Any) -> None:
        super().__init__(name, import_name, **options)
        self.tag = tag
        self.operations: list[Operation] = []
        # As in core: an id past what the database holds is a 404, not a database error.
        self.record_once(lambda state: state.app.url_map.converters.update(int=IdConverter))

    def operation(
        self,
        rule: str,
        method: str = "GET",
        *,
        auth: bool = True,
        body: type[Schema] | None = None,
        query: type[Schema] | None = None,
        response: type[Schema] | None = None,
        status: int = 200,
        many: bool = False,
        errors: tuple[int, ...] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register ``view`` for ``method rule``.

        With ``auth`` the view gets ``user`` (core's ``/me`` of the bearer token); it gets
        ``body`` and ``args`` when the operation has those schemas, and returns what
        ``response`` dumps (a list when ``many``, answered as ``{"items", "next_cursor"}``),
        ``None`` for 204, or a ``Response``.
        """

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            summary, _, description = (view.__doc__ or "").strip().partition("\n")
            self.operations.append(
                Operation(
                    rule=rule,
                    method=method,
                    endpoint=f"{self.name}.{view.__name__}",
                    summary=summary.strip(),
                    description=description.strip(),
                    tag=self.tag,
                    auth=auth,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    many=many,
                    errors=errors,
                )
            )
            body_schema = body(unknown=RAISE) if body else None
            query_schema = query(unknown=EXCLUDE) if query else None
            response_schema = response() if response else None

            @functools.wraps(view)
            def wrapped(**path: Any) -> Response:
                if auth:
                    path["user"] = current_user()
                if query_schema is not None:
                    path["args"] = query_schema.load(request.args.to_dict())
                if body_schema is not None:
                    path["body"] = body_schema.load(json_body())
                result = view(**path)
                if isinstance(result, Response):
                    return result
                if result is None and status == 204:
                    return Response(status=204)
                if response_schema is not None:
                    result = response_schema.dump(result, many=many)
                    if many:
                        result = {"items": result, "next_cursor": None}
                return Response(json.dumps(result), status=status, mimetype=JSON_MIMETYPE)

            self.add_url_rule(rule, endpoint=view.__name__, view_func=wrapped, methods=[method])
            return wrapped

        return decorator


def current_user() -> dict[str, Any]:
    """The user owning the request's bearer token, as core's ``/api/v1/me`` says."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send a valid token as 'Authorization: Bearer <token>'.")
    core = current_app.extensions["calendar_sync"].core
    try:
        user = core.whoami(token.strip())
    except CoreError as error:
        raise CoreUnreachable(
            "cardcrm's core service, which checks tokens, cannot be reached; try again soon."
        ) from error
    if user is None:
        raise Unauthorized("The token is not valid (or is not a user's token).")
    return user


def json_body() -> Any:
    """The request body as JSON; malformed JSON is a 400, a non-object a 422 by the schema."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as error:
        raise BadRequest(f"The body is not valid JSON: {error}") from error
