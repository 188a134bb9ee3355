"""Answers kept per process while nothing they are made of has changed: the Today view and the
card list, asked again and again (a team's browsers, a sidecar's digest), cost the token check's
one query instead of their own.

**What says that nothing has changed.** Every write in core records its events in its own
transaction (``events/outbox.py``), and on PostgreSQL events commit in id order (an advisory
lock; SQLite has one writer at a time). So the newest event id a statement sees, the *data
version*, names everything committed before it: if it is the same as when an answer was made,
no card, task, product, status or membership has changed since. The token check reads it in
the same statement as the token (``auth.service._TOKEN_QUERY``), so knowing it costs nothing.
A kept answer is made *after* the version was read, so it is never older than its key says;
it may only be newer, which is harmless: the next request reads the newer version and makes
the answer again.

**What else decides the bytes** is in the key: the kind of answer and its path's ids, the
query string exactly as sent, and the caller's own row as the token check read it (id, time
zone, whether an admin; users are no events). Time is the last input: an answer that depends
on *now* (Today: a deadline passing makes a task overdue, midnight makes another day) says until
when it holds, and is made again after.

Decisions:
- Kept per process, bounded in bytes, least recently used first: nothing needs sharing between
  workers, and a restarted process starts empty.
- Every answer gets a strong ``ETag`` (a digest of its bytes), and a request whose
  ``If-None-Match`` names it gets 304: a page that polls downloads nothing while nothing moved.
- ``CARDCRM_ANSWER_CACHE_MB`` sets the size (``ANSWER_CACHE_BYTES`` in the app config); 0 keeps
  nothing (the benchmarks measure both). A database restored from a backup reuses event ids:
  restart the services after a restore (docs/deployment.md says so), which empties this.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from cardcrm.common.api import JSON_MIMETYPE
from flask import Flask, Response, current_app, request

from .auth.service import checked_principal

#: The OpenAPI description of the 304 these answers give.
NOT_MODIFIED = "The client's copy (If-None-Match: the answer's ETag) is current."
#: Bytes of answers a process keeps unless ``CARDCRM_ANSWER_CACHE_MB`` says otherwise.
DEFAULT_MB = 8
DEFAULT_BYTES = DEFAULT_MB * 1024 * 1024


@dataclass(frozen=True)
class Kept:
    body: bytes
    etag: str
    #: The instant the answer stops holding (``None``: until the data changes).
    until: datetime | None


def etag_of(body: bytes) -> str:
    """The strong entity tag of an answer (unquoted, as werkzeug's ``set_etag`` takes it)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


class Answers:
    """Answers by key, at most ``max_bytes`` of them, least recently used dropped first."""

    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.kept: OrderedDict[Hashable, Kept] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable, now: datetime) -> Kept | None:
        with self.lock:
            kept = self.kept.get(key)
            if kept is None:
                return None
            if kept.until is not None and now >= kept.until:
                del self.kept[key]
                self.size -= len(kept.body)
                return None
            self.kept.move_to_end(key)
            return kept

    def put(self, key: Hashable, body: bytes, until: datetime | None) -> Kept:
        kept = Kept(body, etag_of(body), until)
        if len(body) > self.max_bytes // 8:
            return kept
        with self.lock:
            previous = self.kept.pop(key, None)
            if previous is not None:
                self.size -= len(previous.body)
            self.kept[key] = kept
            self.size += len(body)
            while self.size > self.max_bytes:
                _, dropped = self.kept.popitem(last=False)
                self.size -= len(dropped.body)
        return kept


def install(app: Flask) -> None:
    """Give the app its store of answers (``ANSWER_CACHE_BYTES``, default ``DEFAULT_MB``)."""
    size = int(app.config.get("ANSWER_CACHE_BYTES", DEFAULT_BYTES))
    app.extensions["cardcrm_answers"] = Answers(size) if size > 0 else None


def answer(
    kind: Hashable,
    now: datetime,
    build: Callable[[], tuple[bytes, datetime | None]],
) -> Response:
    """The JSON answer of this request for its caller: kept, or made by ``build`` and kept.

    ``kind`` names the answer and the ids in its path (``("cards", product_id)``); ``build``
    returns the bytes and until when they hold (``None``: until the data changes). Answered
    with its ``ETag``, or 304 when the request's ``If-None-Match`` names it.
    """
    answers: Answers | None = current_app.extensions.get("cardcrm_answers")
    principal = checked_principal()  # no session: a kept answer needs none
    user = principal.user
    if answers is None or principal.data_version is None or user is None:
        body, until = build()
        return _respond(Kept(body, etag_of(body), until))
    key = (
        kind,
        principal.data_version,
        user.id,
        user.timezone,
        user.is_admin,
        request.query_string,
    )
    kept = answers.get(key, now)
    if kept is None:
        body, until = build()
        kept = answers.put(key, body, until)
    return _respond(kept)


def shared(
    kind: Hashable,
    now: datetime,
    build: Callable[[], tuple[bytes, datetime | None]],
) -> tuple[bytes, datetime | None]:
    """Bytes that are the same for every caller ``kind`` names (``("cards", product_id,
    "all")``: whoever sees the whole product), kept under the data version and the query
    string only, so that one caller's answer serves the others. Called by a ``build`` of
    ``answer`` once it knows the caller is one of them; returns what ``build`` would."""
    answers: Answers | None = current_app.extensions.get("cardcrm_answers")
    version = checked_principal().data_version
    if answers is None or version is None:
        return build()
    key = (kind, version, request.query_string)
    kept = answers.get(key, now)
    if kept is None:
        body, until = build()
        kept = answers.put(key, body, until)
    return kept.body, kept.until


def _respond(kept: Kept) -> Response:
    if request.if_none_match.contains(kept.etag):
        response = Response(status=304)
    else:
        response = Response(kept.body, mimetype=JSON_MIMETYPE)
    response.set_etag(kept.etag)
    # The caller's own data: a shared cache must not keep it, and the caller's cache asks
    # again each time (a 304 when nothing changed).
    response.headers["Cache-Control"] = "private, no-cache"
    return response
