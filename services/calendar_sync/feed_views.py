"""HTTP API of feeds: make (or rotate) the secret feed URL, and serve the feed itself."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from cardcrm.common.api import API_PREFIX, ApiBlueprint
from cardcrm.common.db import get_session
from cardcrm.sidecar.auth import current_user
from flask import Response, current_app, request
from werkzeug.http import http_date

from .feeds import active_feed, create_feed, feed_token, revoke_feed, serve_feed
from .schemas import FeedArgsSchema, FeedCreatedSchema, FeedStatusSchema

bp = ApiBlueprint("feeds", __name__, tag="iCal feed", url_prefix=API_PREFIX)
#: The feed itself is not under /api/v1 (its URL is the secret).
public = ApiBlueprint("feed_files", __name__, tag="iCal feed")

CALENDAR_MIMETYPE = "text/calendar"


def _context() -> Any:
    return current_app.extensions["calendar_sync"]


@bp.operation("/feed", "POST", response=FeedCreatedSchema, status=201)
def make_feed() -> dict[str, Any]:
    """Make a new secret feed URL for the caller; the previous one stops working.

    Subscribe to `url` in a calendar app (events: Google, Apple, Outlook), or to `todos_url`
    in a task app (Thunderbird). `GET /feed` shows the same URL again later (on another
    device), so a second device does not need a new URL that breaks the first.
    """
    user = current_user()
    context = _context()
    now = context.clock()
    token = create_feed(get_session(), user, now, context.feed_tokens.seal)
    return {**_urls(token), "created_at": now}


@bp.operation("/feed", response=FeedStatusSchema)
def feed_status() -> dict[str, Any]:
    """Whether the caller has a working feed URL, and the URL itself.

    The token is kept encrypted with a key derived from the service's secret key (beside its
    hash, which finds the feed). `url` is null for a feed made before cardcrm kept it, or
    after the secret key changed: make a new one then.
    """
    user = current_user()
    feed = active_feed(get_session(), user["id"])
    if feed is None:
        return {"active": False, "created_at": None, "url": None, "todos_url": None}
    token = feed_token(feed, _context().feed_tokens.open)
    urls = _urls(token) if token else {"url": None, "todos_url": None}
    return {"active": True, "created_at": feed.created_at, **urls}


def _urls(token: str) -> dict[str, str]:
    base = _context().settings.get("PUBLIC_URL") or request.url_root.rstrip("/")
    url = f"{base.rstrip('/')}/feeds/{token}.ics"
    return {"url": url, "todos_url": url + "?format=todos"}


@bp.operation("/feed", "DELETE", status=204, errors=(404,))
def stop_feed() -> None:
    """Revoke the caller's feed URL."""
    user = current_user()
    revoke_feed(get_session(), user["id"], _context().clock())


@public.operation(
    "/feeds/<token>.ics",
    auth=None,
    query=FeedArgsSchema,
    errors=(404, 503),
    raw_response={"type": "string"},
    media_type=CALENDAR_MIMETYPE,
    other_responses={304: "Not modified (If-None-Match or If-Modified-Since)"},
)
def feed(token: str, args: dict[str, Any]) -> Response:
    """The feed of a secret token: the user's open tasks as VEVENTs, or VTODOs with
    `?format=todos`, on the cards the user may see (admins: every card; others: those of the
    products they are members of, or only their own and unowned ones if so limited).

    `ETag` is a hash of the bytes; `If-None-Match` answers 304 without building anything and
    wins over `If-Modified-Since`. An unknown or revoked token is a 404, whichever it is.
    When core cannot say whether the user is an admin, the answer is a 503 with `Retry-After`
    (never a feed built on a guess).
    """
    if_none_match = request.headers.get("If-None-Match")
    answer = serve_feed(
        get_session,
        _context(),
        token,
        args["format"],
        [tag.strip() for tag in if_none_match.split(",")] if if_none_match is not None else None,
        request.if_modified_since,
    )
    headers = {
        "ETag": answer.etag,
        "Last-Modified": _http_date(answer.last_modified),
        "Cache-Control": "private, no-cache",
        "X-Robots-Tag": "noindex",
    }
    if answer.status == 304:
        response = Response(status=304, headers=headers)
    else:
        headers["Content-Disposition"] = 'inline; filename="cardcrm.ics"'
        response = Response(
            answer.body,
            status=200,
            headers=headers,
            content_type=f"{CALENDAR_MIMETYPE}; charset=utf-8",
        )
    if answer.later:
        # Once the answer is sent: the WSGI server closes every response it sent.
        response.call_on_close(answer.keep)
    return response


@lru_cache(maxsize=1024)
def _http_date(moment: datetime) -> str:
    """``http_date`` (formatted through ``email.utils``), once per feed version: a poll that
    gets a 304 asks for the same date again and again."""
    return http_date(moment)
