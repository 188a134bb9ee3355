"""The page the confirmation link opens: ``GET`` shows a button, its ``POST`` confirms.

Not under ``/api/v1``: people open it from an e-mail, logged in or not (the token in the path
is the proof). Opening it changes nothing, since mail scanners open links too. Answers are
small HTML pages with no outside resources, kept out of caches, referrers and frames. A link
that is unknown (404) or used, expired or for an address no longer chosen (410) is a page too
for a browser (which asks for HTML first), and a problem document for any other client.
"""

from __future__ import annotations

from html import escape

from cardcrm.common.api import ApiBlueprint
from cardcrm.common.db import get_session
from cardcrm.common.errors import NotFound
from cardcrm.common.i18n import current_language
from flask import Response, current_app, request
from flask_babel import gettext as _

from ..context import NotificationsContext
from .verification import Gone, Verifier

public = ApiBlueprint("email_verification", __name__, tag="Preferences")

HTML = {"type": "string", "description": "An HTML page"}
#: Refused links: 404 unknown; 410 used, expired, or for an address no longer chosen.
REFUSED = (404, 410)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
}


def _verifier() -> tuple[NotificationsContext, Verifier]:
    context: NotificationsContext = current_app.extensions["cardcrm_notifications"]
    return context, Verifier.from_context(context, request.url_root)


@public.operation(
    "/verify/<token>",
    auth=None,
    raw_response=HTML,
    media_type="text/html",
    errors=REFUSED,
)
def verification_page(token: str) -> Response:
    """The page of a confirmation link: what it confirms, and a button to confirm it.

    Opening it changes nothing (mail scanners open links); the button's POST confirms. A
    refused link is an HTML page for a browser (`Accept: text/html` first), else a problem.
    """
    context, verifier = _verifier()
    try:
        verification = verifier.check(get_session(), token, context.clock())
    except (NotFound, Gone) as error:
        return _refused(error)
    return _page(
        200,
        _("Confirm your notification address"),
        _(
            "cardcrm notifications will be sent to %(address)s once you confirm that "
            "this is your address.",
            address=verification.email,
        ),
        form=_("Confirm this address"),
    )


@public.operation(
    "/verify/<token>",
    "POST",
    auth=None,
    raw_response=HTML,
    media_type="text/html",
    errors=REFUSED,
)
def confirm_verification(token: str) -> Response:
    """Confirm the address the link was sent to: it gets the user's notification e-mails.

    A link works once, for 24 hours, and only while its address is still the chosen one.
    """
    context, verifier = _verifier()
    try:
        address = verifier.confirm(get_session(), token, context.clock())
    except (NotFound, Gone) as error:
        return _refused(error)
    return _page(
        200,
        _("Address confirmed"),
        _("%(address)s now gets the cardcrm notifications sent by e-mail.", address=address),
    )


def _refused(error: NotFound | Gone) -> Response:
    """A refused link: a page for people, a problem document for programs."""
    wanted = request.accept_mimetypes.best_match(["application/problem+json", "text/html"])
    if wanted != "text/html":
        raise error
    return _page(error.status, _("This link does not work"), error.detail)


def _page(status: int, title: str, text: str, form: str | None = None) -> Response:
    # The form posts to this very address (no action): right under any mount point.
    button = (
        f'<form method="post"><button type="submit">{escape(form)}</button></form>' if form else ""
    )
    body = (
        f'<!DOCTYPE html><html lang="{current_language()}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · cardcrm</title>"
        "<style>body{font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em;"
        "line-height:1.5}button{font-size:1em;padding:.5em 1em}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p>{button}</body></html>"
    )
    return Response(body, status=status, headers=HEADERS, content_type="text/html; charset=utf-8")
