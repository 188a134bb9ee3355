"""Errors on web pages answered as HTML: a page, or for htmx a message in the page's message area.

Views that can keep what the user typed catch the domain errors they expect themselves and
render their form again; everything else ends here. The JSON API keeps its problem+json
handler (errors.py of core); these handlers belong to the ``web`` blueprint only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cardcrm.common.errors import CardcrmError, DatabaseUnavailable
from flask import Blueprint, Flask, Response, flash, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from .forms import messages_of
from .security import csrf_token, is_htmx, logged_in_session, with_security_headers

log = logging.getLogger(__name__)

#: Werkzeug's own words for the HTTP errors a page may meet, to say them in the reader's
#: language: status -> (name, description). A view's own description is kept as it is.
HTTP_WORDS = {
    400: (
        _l("Bad Request"),
        _l("The browser (or proxy) sent a request that this server could not understand."),
    ),
    403: (
        _l("Forbidden"),
        _l(
            "You don't have the permission to access the requested resource. It is either"
            " read-protected or not readable by the server."
        ),
    ),
    404: (
        _l("Not Found"),
        _l(
            "The requested URL was not found on the server. If you entered the URL manually"
            " please check your spelling and try again."
        ),
    ),
    405: (_l("Method Not Allowed"), _l("The method is not allowed for the requested URL.")),
    413: (
        _l("Request Entity Too Large"),
        _l("The data value transmitted exceeds the capacity limit."),
    ),
    429: (
        _l("Too Many Requests"),
        _l("This user has exceeded an allotted request count. Try again later."),
    ),
}


def http_words(error: HTTPException) -> tuple[str, str]:
    """An HTTP error's name and description, in the reader's language when cardcrm has them."""
    name = error.name
    description = error.description or error.name
    words = HTTP_WORDS.get(error.code or 0)
    if words is not None:
        name = str(words[0])
        if error.description == type(error).description:
            description = str(words[1])
    return name, description


def error_page(status: int, title: str, detail: str, messages: list[str] | None = None) -> Response:
    if is_htmx():
        body = render_template("_messages.html", errors=[detail, *(messages or [])])
        # The message replaces the page's message area, wherever the request meant to swap.
        return Response(
            body, status=status, headers={"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
        )
    body = render_template(
        "error.html", status=status, title=title, detail=detail, messages=messages
    )
    return Response(body, status=status)


def error_message(error: CardcrmError | None) -> str | None:
    """A refusal in one line, for a message beside what the user did."""
    if error is None:
        return None
    details = [" ".join(texts) for texts in messages_of(error).values()]
    return " ".join(details) or error.detail


def flash_error(error: CardcrmError) -> None:
    """Show a refusal on the next page (after a redirect)."""
    flash(error_message(error) or error.detail, "error")


def install(web: Blueprint) -> None:
    @web.errorhandler(CardcrmError)
    def _domain(error: CardcrmError) -> Response:
        messages = [
            f"{field}: {' '.join(texts)}" for field, texts in messages_of(error).items() if texts
        ]
        return error_page(error.status, error.title, error.detail, messages)

    @web.errorhandler(ValidationError)
    def _validation(error: ValidationError) -> Response:
        messages = [f"{field}: {' '.join(texts)}" for field, texts in messages_of(error).items()]
        return error_page(422, _("Check the form"), _("Some values are not valid."), messages)

    @web.errorhandler(StaleDataError)
    def _stale(error: StaleDataError) -> Response:
        return error_page(
            412,
            _("Changed meanwhile"),
            _("Someone changed this at the same time; reload and retry."),
        )

    @web.errorhandler(OperationalError)
    @web.errorhandler(InterfaceError)
    def _database_unavailable(error: Exception) -> Response:
        log.error("web page: 503, the database is unavailable: %s", error)
        page = error_page(
            503,
            _("Unavailable"),
            _("The database cannot be reached right now; try again in a moment."),
        )
        page.headers["Retry-After"] = str(DatabaseUnavailable.retry_after)
        return page

    @web.errorhandler(OverflowError)
    @web.errorhandler(DataError)
    def _out_of_range(error: Exception) -> Response:
        # As on the API: a number or text the database cannot hold is the request's fault.
        log.warning("web page: 422 for a value the database cannot hold: %s", error)
        return error_page(422, _("Check the form"), _("A value is out of range or too long."))

    @web.errorhandler(IntegrityError)
    def _integrity(error: IntegrityError) -> Response:
        log.warning("integrity error on a web page: %s", error.orig)
        return error_page(
            409, _("Conflict"), _("The change conflicts with another one; try again.")
        )

    @web.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        return error_page(error.code or 500, *http_words(error))

    @web.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on a web page")
        return error_page(
            500, _("Something went wrong"), _("An unexpected error occurred; it was logged.")
        )


#: Paths that belong to the JSON API (and probes): their errors stay problem+json.
API_PREFIXES = ("/api/", "/healthz")


def install_unmatched(app: Flask, problem_answer: Callable[[HTTPException], Response]) -> None:
    """Answer a URL that names no page (``/nope``, ``/product/1``, ``/cards/abc``) with an
    HTML page in the site's layout instead of the API's problem+json.

    Routing errors are raised before any blueprint is chosen, so the ``web`` blueprint's
    handlers never see them; this app-level handler for 404 and 405 decides by the path:
    the API's paths keep ``problem_answer`` (the shared problem+json handler).
    """

    def page_or_problem(error: HTTPException) -> Response:
        on_api = request.path.startswith(API_PREFIXES) or (
            request.blueprint is not None and not request.blueprint.startswith("web")
        )
        if on_api or request.method not in ("GET", "HEAD"):
            return problem_answer(error)
        if request.blueprint is not None:  # a web page's own 404 (its hooks ran)
            return error_page(error.code or 404, *http_words(error))
        # No web hook ran: find who is logged in, for the layout's header.
        g.web_session, g.web_secret = logged_in_session()
        g.web_user = g.web_session.user if g.web_session is not None else None
        name, description = http_words(error)
        page = render_template(
            "error.html",
            status=error.code,
            title=_("Page not found") if error.code == 404 else name,
            detail=(
                _("There is no page at this address. It may have moved, or the link is mistyped.")
                if error.code == 404
                else description
            ),
            messages=None,
            csrf_token=csrf_token,
            current_user=g.get("web_user"),
            sidecars=set(),
        )
        response = Response(page, status=error.code or 404)
        return with_security_headers(response)

    app.register_error_handler(NotFound, page_or_problem)
    app.register_error_handler(MethodNotAllowed, page_or_problem)
