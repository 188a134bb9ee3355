"""The errors every service answers with, and the one set of handlers that turns them into
problem+json (RFC 9457).

Domain code raises a ``CardcrmError`` subclass (a service adds its own subclasses); views never
build error responses by hand. ``init_app`` installs the same handlers in every service, so a
database outage, a stale write or an unexpected exception reads the same everywhere.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from marshmallow import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from .translate import LazyString
from .translate import gettext as _
from .translate import lazy_gettext as _l
from .validation_messages import translate_message, translate_messages

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class CardcrmError(Exception):
    """Root of every error a cardcrm service answers with a problem document.

    ``retry_after``, when set, is how many seconds the client should wait before sending the
    same request again (the answer's ``Retry-After``)."""

    status = 500
    #: Read in the language of the answer (a ``LazyString``); ``problem`` makes it a ``str``.
    title: str | LazyString = _l("Internal server error")
    retry_after: int | None = None

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        # Kept lazy: reading a text picks the request's language, which must wait until the
        # caller is known (the token owner's profile language).
        super().__init__(detail or self.title)
        self._detail: str | LazyString = detail or self.title
        self.extra = extra

    @property
    def detail(self) -> str:
        """The detail as text, read in the language of the moment (the title's, if none)."""
        return str(self._detail)

    def __str__(self) -> str:
        return self.detail

    @property
    def headers(self) -> dict[str, str]:
        """The headers the answer carries besides the problem document."""
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if self.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return headers


class BadRequest(CardcrmError):
    status, title = 400, _l("Bad request")


class Unauthorized(CardcrmError):
    status, title = 401, _l("Unauthorized")


class Forbidden(CardcrmError):
    status, title = 403, _l("Forbidden")


class NotFound(CardcrmError):
    status, title = 404, _l("Not found")


class Conflict(CardcrmError):
    status, title = 409, _l("Conflict")


class PreconditionFailed(CardcrmError):
    status, title = 412, _l("Precondition failed")


class TooManyRequests(CardcrmError):
    """Refused for now (a throttle); ``Retry-After`` says for how many seconds."""

    status, title = 429, _l("Too many requests")

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class Invalid(CardcrmError):
    """Input that parses but breaks a rule; ``errors`` names the fields."""

    status, title = 422, _l("Unprocessable content")

    def __init__(self, errors: dict[str, list[str]] | str, detail: str | None = None) -> None:
        if isinstance(errors, str):
            detail, errors = detail or errors, {}
        super().__init__(detail or _("The request has invalid fields."), errors=errors)


class ServiceUnavailable(CardcrmError):
    """Nothing the client did wrong: a service this one needs is down or catching up.
    ``Retry-After`` says when to try again."""

    status, title = 503, _l("Service unavailable")
    retry_after = 30


class DatabaseUnavailable(ServiceUnavailable):
    """The service's own database is down, restarting or busy past the lock timeout: nothing
    was written (the transaction rolled back), and the same request works again shortly."""

    retry_after = 5


class CoreUnreachable(ServiceUnavailable):
    """Core, which says who owns a token and holds the data, cannot be reached (sidecars)."""


class ConfigurationError(CardcrmError):
    """The service's settings cannot work (e.g. a worker without a service token)."""

    status, title = 500, _l("Misconfigured")


def ensure_version(current: int, expected: set[int] | None) -> None:
    """Refuse a write made against a version other than ``current`` (``If-Match``)."""
    if expected is not None and current not in expected:
        raise PreconditionFailed(
            _(
                "The resource changed (it is now at version %(version)s); "
                "fetch it again and reapply your change.",
                version=current,
            )
        )


def field_messages(messages: Any) -> dict[str, list[str]]:
    """Marshmallow's messages as API.md's ``{"field": ["message", ...]}``: a nested field's or
    list item's messages go to its top-level field, each led by the path inside it
    (``{"repeat": ["freq: Missing data for required field."]}``)."""
    if not isinstance(messages, dict):
        return {"_": _texts(messages)}
    return {str(key): _texts(value) for key, value in messages.items()}


def _texts(messages: Any, path: str = "") -> list[str]:
    lead = f"{path}: " if path else ""
    if isinstance(messages, dict):
        return [
            text
            for key, value in messages.items()
            for text in _texts(value, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(messages, list | tuple):
        return [text for message in messages for text in _texts(message, path)]
    return [lead + str(messages)]


def problem(
    status: int, title: str | LazyString, detail: str | LazyString | None = None, **extra: Any
) -> Response:
    """A problem document; titles and details are read in the answer's language here, and
    marshmallow's messages among ``errors`` translated (a ``LazyString`` never reaches JSON)."""
    body = {
        "type": "about:blank",
        "title": str(title),
        "status": status,
        "detail": translate_message(detail or title),
    }
    body.update(extra)
    if "errors" in body:
        body["errors"] = translate_messages(body["errors"])
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def invalid_fields(error: ValidationError) -> Response:
    messages = field_messages(translate_messages(error.messages))
    return problem(
        422,
        Invalid.title,
        _(
            "The request has invalid fields: %(fields)s.",
            fields=", ".join(sorted(map(str, messages))),
        ),
        errors=messages,
    )


def out_of_range(error: Exception) -> Response:
    # A number or text the database cannot hold (an id past its integer type, a string over a
    # column's length, a NUL on PostgreSQL): the request's fault, whichever field it was.
    log.warning(
        "%s %s: 422 for a value the database cannot hold: %s", request.method, request.path, error
    )
    return problem(
        422, Invalid.title, _("A value in the request is out of range or too long."), errors={}
    )


def database_unavailable(error: Exception) -> Response:
    log.error("%s %s: 503, the database is unavailable: %s", request.method, request.path, error)
    return answer(DatabaseUnavailable(_("The database is unavailable; try again in a moment.")))


def answer(error: CardcrmError) -> Response:
    """The problem document of ``error``, with its headers."""
    response = problem(error.status, error.title, error.detail, **error.extra)
    response.headers.update(error.headers)
    return response


#: werkzeug's HTTP errors' names, and the descriptions a client meets most, in the catalogue.
HTTP_TITLES: dict[int, LazyString] = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    406: _l("Not Acceptable"),
    409: _l("Conflict"),
    410: _l("Gone"),
    411: _l("Length Required"),
    412: _l("Precondition Failed"),
    413: _l("Request Entity Too Large"),
    414: _l("Request URI Too Large"),
    415: _l("Unsupported Media Type"),
    416: _l("Requested Range Not Satisfiable"),
    422: _l("Unprocessable Entity"),
    428: _l("Precondition Required"),
    429: _l("Too Many Requests"),
    431: _l("Request Header Fields Too Large"),
    500: _l("Internal Server Error"),
    501: _l("Not Implemented"),
    503: _l("Service Unavailable"),
}
HTTP_DESCRIPTIONS: dict[int, LazyString] = {
    404: _l(
        "The requested URL was not found on the server. If you entered the URL manually please "
        "check your spelling and try again."
    ),
    405: _l("The method is not allowed for the requested URL."),
    413: _l("The data value transmitted exceeds the capacity limit."),
    415: _l("The server does not support the media type transmitted in the request."),
}


def _http_title(error: HTTPException) -> str | LazyString:
    return HTTP_TITLES.get(error.code or 500) or error.name


def _http_detail(error: HTTPException) -> str | LazyString | None:
    """werkzeug's own description in the catalogue's words; a view's own text as it is."""
    detail = error.description
    known = HTTP_DESCRIPTIONS.get(error.code or 500)
    if known is not None and detail == type(error).description:
        return known
    return detail


def http_error(error: HTTPException) -> Response:
    """An HTTP error (no route, wrong method, body too large...) as problem+json."""
    detail = _http_detail(error)
    if error.code == 400 and "JSON" in str(detail or ""):
        detail = _("The body is not valid JSON.")
    response = problem(error.code or 500, _http_title(error), detail)
    allowed = getattr(error, "valid_methods", None)  # only a MethodNotAllowed has them
    if error.code == 405 and allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


def init_app(app: Flask) -> None:
    """Answer every error of ``app`` as problem+json (one shape for every service): domain
    errors, invalid fields (422), values the database cannot hold (422), a database that
    cannot be reached (503), racing writers (412), conflicts (409), HTTP errors, the rest."""
    app.register_error_handler(CardcrmError, answer)
    app.register_error_handler(ValidationError, invalid_fields)
    out_of_range_errors: tuple[type[Exception], ...] = (OverflowError, DataError)
    for error_class in out_of_range_errors:
        app.register_error_handler(error_class, out_of_range)
    unavailable_errors: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
    for error_class in unavailable_errors:
        app.register_error_handler(error_class, database_unavailable)

    @app.errorhandler(StaleDataError)
    def _stale(error: StaleDataError) -> Response:
        # Two writers passed the If-Match check at once; the database let only one through.
        return problem(
            412, PreconditionFailed.title, _("The resource changed meanwhile; fetch it again.")
        )

    @app.errorhandler(IntegrityError)
    def _integrity(error: IntegrityError) -> Response:
        log.warning("integrity error answered as 409: %s", error.orig)
        return problem(409, Conflict.title, _("The change conflicts with another one; try again."))

    app.register_error_handler(HTTPException, http_error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, CardcrmError.title, _("An unexpected error occurred; it was logged."))
