"""Idempotency keys: a POST sent again with the same ``Idempotency-Key`` is done once.

A client that lost the answer to a POST (a timeout, a dropped connection, core restarting)
sends it again with the same key and gets the first answer back instead of making a second
card or task. The key is written in the transaction that makes the change, so the change and
its key commit together or not at all; the answer is stored just after. Keys belong to the
caller (a user, or a service) and are kept for ``KEEP``. A request that failed made no change
and left no key: sending it again does it again.

Every service that documents the header keeps its keys in its own database: its declarative
base declares the table with ``IdempotencyKeyColumns`` and its ``ApiService`` names an
``IdempotencyStore`` over that table (see ``cardcrm.common.api``).

The same key with another request (method, path, query or body) is a 422. A key whose change
was committed but whose answer was not stored (core stopped in between) is a 409 saying so:
the change was made, once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Response, g, request
from sqlalchemy import (
    Index,
    String,
    Text,
    UniqueConstraint,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, sessionmaker

from .db import get_session, write_transaction
from .errors import BadRequest, Conflict, Invalid
from .timeutil import utcnow
from .translate import gettext as _

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 200
#: Headers of the first answer given again with it.
KEPT_HEADERS = ("ETag", "Location")
_PENDING = "cardcrm_idempotency_pending"
log = logging.getLogger(__name__)
_WRITTEN = "cardcrm_idempotency_written"


class IdempotencyKeyColumns:
    """The ``idempotency_keys`` table, declared by a service on its own base:
    ``class IdempotencyKey(IdempotencyKeyColumns, Base)``."""

    __tablename__ = "idempotency_keys"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        # New constraint objects for each service's table (one object cannot serve two).
        return (
            UniqueConstraint("owner", "key"),
            Index("ix_idempotency_keys_created_at", "created_at"),
        )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``user:<id>`` or ``service:<name>``: keys of different callers never meet.
    owner: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    #: SHA-256 of the method, path, query string and body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: The answer, stored once given (``None``: the change committed, the answer was lost).
    status: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyStore:
    """Where one service keeps its keys: its ``IdempotencyKeyColumns`` table."""

    def __init__(self, model: type[IdempotencyKeyColumns], owner_of: Callable[[Any], str]) -> None:
        self.model = model
        #: Names a caller (``user:<id>``, ``service:<name>``): keys of different callers
        #: never meet.
        self.owner_of = owner_of

    def install(self, factory: sessionmaker[Session]) -> None:
        """Write a request's key in the first transaction of that request that commits."""
        model = self.model

        @event.listens_for(factory, "before_commit")
        def _write_key(session: Session) -> None:
            pending = session.info.pop(_PENDING, None)
            if pending is None:
                return
            now = utcnow()
            session.execute(delete(model).where(model.created_at < now - KEEP))
            session.execute(insert(model).values(**pending, created_at=now))
            session.info[_WRITTEN] = (pending["owner"], pending["key"])

    def replay_or_begin(self, caller: Any) -> Response | None:
        """For a POST with a key: the first answer if there was one, else note the key
        (written with the change). ``None`` when the request is to be done."""
        key = request.headers.get(HEADER)
        if key is None:
            return None
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise BadRequest(
                _(
                    "%(header)s must be 1 to %(max)s printable characters.",
                    header=HEADER,
                    max=MAX_KEY_LENGTH,
                )
            )
        owner = self.owner_of(caller)
        digest = hashlib.sha256()
        for part in (request.method, request.path, request.query_string):
            digest.update(part if isinstance(part, bytes) else part.encode())
            digest.update(b"\0")
        digest.update(request.get_data(cache=True))
        fingerprint = digest.hexdigest()
        session = get_session()
        model = self.model
        found = session.scalar(
            select(model).where(
                model.owner == owner, model.key == key, model.created_at >= utcnow() - KEEP
            )
        )
        if found is None:
            session.info[_PENDING] = {"owner": owner, "key": key, "fingerprint": fingerprint}
            g.idempotency_session = session
            return None
        if found.fingerprint != fingerprint:
            raise Invalid(
                {HEADER: [_("This key was used for another request; use a new key per request.")]}
            )
        if found.status is None:
            raise Conflict(
                _(
                    "The request with this Idempotency-Key was done, but its answer was lost; "
                    "fetch the result instead of sending it again."
                )
            )
        headers = {**(found.headers or {}), REPLAYED_HEADER: "true"}
        return Response(
            found.body, status=found.status, headers=headers, mimetype="application/json"
        )

    def keep_answer(self, response: Response) -> Response:
        """Store the answer of a request whose key was written with its change."""
        session = g.pop("idempotency_session", None)
        if session is None:
            return response
        session.info.pop(_PENDING, None)  # no change was committed: nothing to remember
        written = session.info.pop(_WRITTEN, None)
        if written is None:
            return response
        owner, key = written
        kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        model = self.model
        try:
            with write_transaction(session):
                session.execute(
                    update(model)
                    .where(model.owner == owner, model.key == key)
                    .values(
                        status=response.status_code,
                        body=response.get_data(as_text=True),
                        headers=kept,
                    )
                )
        except SQLAlchemyError:
            # The change is made and this is its answer: give it. Only a retry of this
            # request will be told its answer was lost.
            log.warning("could not keep the answer of %s %s", request.method, request.path)
        return response

    @staticmethod
    def forget_pending() -> None:
        """A request that failed: its key was not written (its transaction rolled back)."""
        session = g.pop("idempotency_session", None)
        if session is not None:
            session.info.pop(_PENDING, None)
            session.info.pop(_WRITTEN, None)
