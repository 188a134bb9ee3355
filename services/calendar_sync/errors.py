"""Domain errors of the calendar sync service and the one handler that answers problem+json."""

from __future__ import annotations

import logging
from typing import Any

from cardcrm.core.errors import install_common_handlers
from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class CalendarSyncError(Exception):
    """Root of every error the calendar sync service answers with a problem document."""

    status = 500
    title = "Internal server error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class BadRequest(CalendarSyncError):
    status, title = 400, "Bad request"


class Unauthorized(CalendarSyncError):
    status, title = 401, "Unauthorized"


class NotFound(CalendarSyncError):
    status, title = 404, "Not found"


class Conflict(CalendarSyncError):
    status, title = 409, "Conflict"


class Invalid(CalendarSyncError):
    """Input that parses but cannot be used; ``errors`` names the fields."""

    status, title = 422, "Unprocessable content"

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        super().__init__(detail or "The request has invalid fields.", errors=errors)


class CoreUnreachable(CalendarSyncError):
    """Core, which says who owns a token, is down: nothing the client did wrong."""

    status, title = 503, "Service unavailable"


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail or title}
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def init_app(app: Flask) -> None:
    @app.errorhandler(CalendarSyncError)
    def _domain(error: CalendarSyncError) -> Response:
        response = problem(error.status, error.title, error.detail, **error.extra)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if error.status == 503:
            response.headers["Retry-After"] = "30"
        return response

    install_common_handlers(app)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        response = problem(error.code or 500, error.name, error.description)
        if error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, CalendarSyncError.title, "An unexpected error occurred; it was logged.")
