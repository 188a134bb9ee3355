"""Declaring an API operation once: its route, caller, schemas, idempotency and OpenAPI text.

``ApiBlueprint.operation`` registers a Flask view and records what the OpenAPI document says
about it, from the same marshmallow schemas that parse the request and dump the response, so
the two cannot drift apart. Every service declares its operations this way; what differs
between services (how a caller is identified, where idempotency keys are kept, whether writes
take ``If-Match``) is the ``ApiService`` (``service.py``) each app installs with
``cardcrm.common.app.install_api``, and the document says only what the service does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, current_app, json, request
from marshmallow import EXCLUDE, RAISE, Schema, fields
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from .errors import PreconditionFailed
from .idempotency import IdempotencyStore
from .input_rules import check_integers, check_text, column_integers, parse_json
from .service import api_service
from .translate import gettext as _

JSON_MIMETYPE = "application/json"
#: Where every service serves its API (below its mount point, for the sidecars).
API_PREFIX = "/api/v1"
#: The largest id a path may name: ids are PostgreSQL ``integer`` columns (SQLite's are
#: wider). A path past it names nothing (404) instead of failing in the database.
MAX_ID = 2**31 - 1
#: The longest version an ``If-Match`` may name: versions are 64-bit integers at most.
MAX_VERSION_DIGITS = 19


class IdConverter(IntegerConverter):
    """``<int:...>`` in every rule of an app with an ``ApiBlueprint``: an id past ``MAX_ID``
    is a 404 (a converter's own ``max`` would make it a 405, as if the URL were another's)."""

    def to_python(self, value: str) -> int:
        number: int = super().to_python(value)
        if number > MAX_ID:
            raise NotFound(_("No object has the id %(id)s.", id=value))
        return number


def api_blueprints(app: Flask) -> list[ApiBlueprint]:
    """The app's blueprints declared with ``ApiBlueprint``, in registration order."""
    return [bp for bp in app.blueprints.values() if isinstance(bp, ApiBlueprint)]


@dataclass
class Page:
    """A page of a list: the items and the cursor of the next page (``None`` on the last)."""

    items: list[Any]
    next_cursor: str | None = None


@dataclass
class Reply:
    """A view's result with a status or headers other than the operation's defaults."""

    data: Any
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    description: str
    tag: str
    auth: str | None
    body: type[Schema] | None
    query: type[Schema] | None
    response: type[Schema] | None
    status: int
    paginated: bool
    etag: bool
    errors: tuple[int, ...]
    extra_query: dict[str, str] | None = None
    raw_response: dict[str, Any] | None = None
    media_type: str = JSON_MIMETYPE
    raw_body: dict[str, Any] | None = None
    #: Other answers that are no error (e.g. 304), with their description.
    other_responses: dict[int, str] | None = None
    #: What a service token needs to call it (core: the token's scopes); ``None``: no service.
    scope: str | None = None


class ApiBlueprint(Blueprint):
    """A blueprint whose views are declared with ``operation`` (one feature per blueprint)."""

    def __init__(self, name: str, import_name: str, tag: str, **options: Any) -> None:
        super().__init__(name, import_name, **options)
        self.tag = tag
        self.operations: list[Operation] = []
        # Before any rule is bound, so that the app's every <int:...> is bounded.
        self.record_once(lambda state: state.app.url_map.converters.update(int=IdConverter))

    def operation(
        self,
        rule: str,
        method: str = "GET",
        *,
        auth: str | None = "user",
        body: type[Schema] | None = None,
        query: type[Schema] | None = None,
        response: type[Schema] | None = None,
        status: int = 200,
        paginated: bool = False,
        etag: bool = False,
        errors: tuple[int, ...] = (),
        extra_query: dict[str, str] | None = None,
        raw_response: dict[str, Any] | None = None,
        media_type: str = JSON_MIMETYPE,
        raw_body: dict[str, Any] | None = None,
        other_responses: dict[int, str] | None = None,
        scope: str | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register ``view`` for ``method rule``.

        ``auth`` is one of the service's levels (core: ``"user"``, ``"admin"``, ``"events"``;
        the sidecars: ``"user"``) or ``None`` (public). The view receives the path parameters,
        plus ``body`` and ``args`` when the operation has those schemas, and returns the object
        to dump with ``response`` (a ``Page`` or a list when ``paginated``), a ``Reply``, or a
        ``Response``. For the OpenAPI document only: ``raw_response`` is the schema of a success
        the view builds itself, of ``media_type``; ``raw_body`` the content (media type to
        schema) of a body the view reads itself; ``other_responses`` answers such as 304.
        ``scope`` names what a service token must carry to call it (itself, or acting for a
        user); the service's ``authorize`` enforces it, and without one no service may.
        """

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            summary, _, description = (view.__doc__ or "").strip().partition("\n")
            endpoint = f"{view.__name__}"
            self.operations.append(
                Operation(
                    rule=rule,
                    method=method,
                    endpoint=f"{self.name}.{endpoint}",
                    summary=summary.strip(),
                    description=description.strip(),
                    tag=self.tag,
                    auth=auth,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    paginated=paginated,
                    etag=etag,
                    errors=errors,
                    extra_query=extra_query,
                    raw_response=raw_response,
                    media_type=media_type,
                    raw_body=raw_body,
                    other_responses=other_responses,
                    scope=scope,
                )
            )
            operation = self.operations[-1]
            body_schema = body(unknown=RAISE) if body else None
            query_schema = query(unknown=EXCLUDE) if query else None
            # What each query string loaded to, kept when the schema says its load may be.
            query_loads = QueryLoadsKept() if getattr(query, "KEEP_LOADS", False) else None
            response_schema = response() if response else None

            @functools.wraps(view)
            def wrapped(**path: Any) -> Response:
                service = api_service()
                store = service.idempotency if method == "POST" and auth else None
                caller = service.authenticate(auth) if auth else None
                if caller is not None and service.authorize is not None:
                    service.authorize(caller, operation)
                if store is not None:
                    replayed = store.replay_or_begin(caller)
                    if replayed is not None:
                        return replayed
                try:
                    if query_schema is None:
                        check_text(_query_texts())
                    elif query_loads is not None:
                        path["args"] = query_loads.args(query_schema)
                    else:
                        path["args"] = _query_args(query_schema)
                    if body_schema is not None:
                        raw_body = json_body()
                        check_text(raw_body)
                        path["body"] = _load(body_schema, raw_body)
                    result = view(**path)
                    response = _respond(result, status, response_schema, paginated)
                except BaseException:
                    IdempotencyStore.forget_pending()
                    raise
                return store.keep_answer(response) if store is not None else response

            self.add_url_rule(rule, endpoint=endpoint, view_func=wrapped, methods=[method])
            return wrapped

        return decorator


def json_body() -> Any:
    """The request body as JSON; malformed or too deeply nested JSON is a 400 (``input_rules``),
    a non-object a 422 by the schema."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    return parse_json(raw)


def _load(schema: Schema, data: Any) -> Any:
    """``data`` loaded by ``schema``, with no integer past what its column holds in what it
    gives the view (``input_rules.check_integers``)."""
    loaded = schema.load(data)
    check_integers(loaded, *_integer_rules(schema))
    return loaded


def _integer_rules(schema: Schema) -> tuple[dict[str, str], frozenset[str]]:
    """``check_integers``'s names and narrow attributes of ``schema``, worked out at its first
    request and kept on it (an operation's schema instances live as long as the app)."""
    rules: tuple[dict[str, str], frozenset[str]] | None = getattr(
        schema, "_cardcrm_integer_rules", None
    )
    if rules is None:
        names = {
            field.attribute or name: field.data_key or name for name, field in schema.fields.items()
        }
        rules = (names, frozenset(column_integers(schema.fields)))
        schema._cardcrm_integer_rules = rules  # type: ignore[attr-defined]
    return rules


class QueryLoadsKept:
    """What each distinct query string loaded to, for an operation whose query schema says its
    load depends on the query string alone (``KEEP_LOADS = True`` on the schema class: no
    default computed when loading, no rule reading the database, the caller or the time): a
    page asked again and again (the Today view, a card list) is read once per process, not on
    every request. Only loads that passed are kept; a refused one is refused each time, in
    the request's language. Bounded: when full it is emptied."""

    LIMIT = 1024

    def __init__(self) -> None:
        self.loaded: dict[bytes, dict[str, Any]] = {}

    def args(self, schema: Schema) -> dict[str, Any]:
        key = request.query_string
        found = self.loaded.get(key)
        if found is None:
            found = _query_args(schema)
            if len(self.loaded) >= self.LIMIT:
                self.loaded.clear()
            self.loaded[key] = found
        return dict(found)  # the view's own: what it changes stays in its request


def _query_args(schema: Schema) -> dict[str, Any]:
    """The request's query loaded by ``schema``, after the text rule (``check_text``)."""
    check_text(_query_texts())
    return _load(schema, _query_dict(schema))  # type: ignore[no-any-return]


def _query_texts() -> dict[str, Any]:
    # Every query value is text, read by the schema or beside it (``field.<key>`` filters).
    return {key: values if len(values) > 1 else values[0] for key, values in request.args.lists()}


def _query_dict(schema: Schema) -> dict[str, Any]:
    # A key may repeat only where the schema's field is a list; elsewhere the last one counts.
    args = {}
    for key, values in request.args.lists():
        field = schema.fields.get(key)
        args[key] = values if isinstance(field, fields.List) else values[-1]
    return args


def _respond(result: Any, status: int, schema: Schema | None, paginated: bool) -> Response:
    if isinstance(result, Response):
        return result
    headers: dict[str, str] = {}
    if isinstance(result, Reply):
        headers = result.headers
        status = result.status or status
        result = result.data
    if result is None and status == 204:
        return Response(status=204, headers=headers)
    if paginated and isinstance(result, list):
        result = Page(result)
    if schema is not None:
        if paginated:
            result = {
                "items": schema.dump(result.items, many=True),
                "next_cursor": result.next_cursor,
            }
        else:
            if getattr(result, "version", None) is not None and "ETag" not in headers:
                headers["ETag"] = etag_for(result.version)
            result = schema.dump(result)
    return Response(dumps(result), status=status, headers=headers, mimetype=JSON_MIMETYPE)


#: orjson's options for ``dumps``: keys as ``json.dumps`` has them (numbers become text, sorted
#: when the app's JSON sorts them), and dates, datetimes and dataclasses left to Flask's encoder
#: (``_flask_default``), which writes them its own way (a datetime as an HTTP date), as the API
#: always did.
_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps(value: Any) -> bytes:
    """``value`` as JSON (UTF-8): what ``flask.json.dumps`` gives, read as JSON, made by
    orjson, several times faster.

    The bytes differ: no spaces after separators, and characters beyond ASCII written as
    themselves (UTF-8) rather than as ``\\u`` escapes; the JSON means the same. What orjson
    refuses (an integer past 64 bits, a float that is not finite: neither comes from a
    schema's ``dump``) is written by Flask's encoder as before."""
    options = _ORJSON_OPTIONS
    if current_app.json.sort_keys:  # type: ignore[attr-defined]  # core keeps schema order
        options |= orjson.OPT_SORT_KEYS
    try:
        return orjson.dumps(value, default=_flask_default, option=options)
    except orjson.JSONEncodeError:
        return json.dumps(value).encode()


def _flask_default(value: Any) -> Any:
    return current_app.json.default(value)  # type: ignore[attr-defined]


def etag_for(version: int) -> str:
    return f'"{version}"'


def expected_versions() -> set[int] | None:
    """The versions the client's ``If-Match`` names, or ``None`` when it sent none.

    ``If-Match: *`` matches any version. A value that is no version of ours can never match,
    so it is answered like a stale one (412), as RFC 9110 asks.
    """
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        # Only ASCII digits that fit a version column: ``"²"`` is a digit to ``str.isdigit``
        # but no number to ``int``, and 4,300 digits are past what ``int`` converts.
        if tag.isascii() and tag.isdigit() and len(tag) <= MAX_VERSION_DIGITS:
            versions.add(int(tag))
    if not versions:
        raise PreconditionFailed(_("If-Match names no version of this resource."))
    return versions
