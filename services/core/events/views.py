"""HTTP API of the event feed: events in id order, with long-poll."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from cardcrm.common.api import ApiBlueprint
from cardcrm.common.db import get_db
from cardcrm.common.timeutil import isoformat_z
from flask import Response, current_app
from marshmallow import Schema, fields, validate

from .outbox import EventNotifier, read_event_rows

bp = ApiBlueprint("events", __name__, tag="Event feed")

MAX_WAIT_SECONDS = 30
#: How often a long-poll looks at the database for events written by other processes, when no
#: notification wakes it first (on PostgreSQL, ``listen.py``: this is then only the fallback
#: for when the listening connection is down). The app config's ``EVENTS_POLL_SECONDS`` wins.
POLL_INTERVAL_SECONDS = 0.5


class EventArgsSchema(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0), metadata={"wide": True})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    wait = fields.Float(load_default=0, validate=validate.Range(min=0, max=MAX_WAIT_SECONDS))


class EventSchema(Schema):
    id = fields.Integer()
    type = fields.String()
    at = fields.String(metadata={"format": "date-time"})
    actor_id = fields.Integer(allow_none=True)
    data = fields.Dict()


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
    last_id = fields.Integer(
        metadata={"description": "The id to pass as `after` next: the last event's, or `after`."}
    )


@bp.operation(
    "/events",
    auth="events",
    query=EventArgsSchema,
    response=EventPageSchema,
    errors=(403,),
    scope="events:read",
)
def list_events(args: dict[str, Any]) -> Response:
    """Events after ``after``, oldest first; ``wait`` long-polls up to that many seconds.

    Ids strictly increase and an event is never served after one with a higher id: events
    commit in id order. Readable by admins and service tokens with the scope ``events:read``.
    A long-poll answers its (empty) page at once when the process begins to stop.
    """
    notifier: EventNotifier = current_app.extensions["cardcrm_events"]
    poll = float(current_app.config.get("EVENTS_POLL_SECONDS", POLL_INTERVAL_SECONDS))
    if args["wait"] and (listener := current_app.extensions.get("cardcrm_event_listener")):
        listener.start()
    deadline = time.monotonic() + args["wait"]
    while True:
        seen = notifier.seen  # taken before reading, so no commit can slip in between
        rows = _read(args["after"], args["limit"])
        remaining = deadline - time.monotonic()
        if rows or remaining <= 0 or notifier.stopping:
            break
        notifier.wait_for_newer(seen, min(remaining, poll))
    last_id = rows[-1][0] if rows else args["after"]
    # Each event's stored `data` is JSON text already: it goes out as it is, not decoded and
    # encoded again (the feed is read in bulk by every sidecar). EventSchema documents it.
    items = ",".join(
        f'{{"id":{event_id},"type":{json.dumps(kind)},"at":"{isoformat_z(at)}",'
        f'"actor_id":{json.dumps(actor_id)},"data":{data}}}'
        for event_id, kind, at, actor_id, data in rows
    )
    body = f'{{"items":[{items}],"last_id":{last_id}}}'
    return Response(body, mimetype="application/json")


def _read(after: int, limit: int) -> list[tuple[int, str, datetime, int | None, str]]:
    # A session per look, so that each one sees what committed since the last.
    session = get_db().session()
    try:
        return read_event_rows(session, after, limit)
    finally:
        session.close()
