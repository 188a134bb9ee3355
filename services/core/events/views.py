"""HTTP API of the event feed: events in id order, with long-poll.

Besides the events, each page says where core's feed is, so that a follower can tell that
core is not the history it followed (core restored from a backup alone, or another database):
``incarnation`` (the database's random id), ``newest_id`` (the newest event's id, 0 if none) and
``after_uid`` (the ``uid`` of the event ``after`` names, ``null`` if there is none). A
long-poll with ``after`` beyond ``newest_id`` answers at once: waiting could not help.
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from cardcrm.common.api import ApiBlueprint
from cardcrm.common.db import get_db, get_session
from cardcrm.common.timeutil import isoformat_z
from flask import Response, current_app
from marshmallow import Schema, fields, validate

from .outbox import EventNotifier, event_uid, incarnation, newest_event_id, read_event_rows

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
    id = fields.Integer(metadata={"description": "The feed's cursor; reused after a restore."})
    uid = fields.String(
        metadata={"description": "The event's globally unique id (a UUID); never reused."}
    )
    type = fields.String()
    at = fields.String(metadata={"format": "date-time"})
    actor_id = fields.Integer(allow_none=True)
    data = fields.Dict()


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
    last_id = fields.Integer(
        metadata={"description": "The id to pass as `after` next: the last event's, or `after`."}
    )
    newest_id = fields.Integer(metadata={"description": "The newest event's id (0: none)."})
    after_uid = fields.String(
        allow_none=True,
        metadata={"description": "The `uid` of the event `after` names; null if none."},
    )
    incarnation = fields.String(
        metadata={"description": "A random id of core's database, made with it."}
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
    A long-poll answers its (empty) page at once when the process begins to stop. Each
    server process lets at most half its threads wait in long-polls, so that followers never
    hold all of them; a long-poll beyond that waits half a second at most (its page may be
    empty: ask again).
    """
    notifier: EventNotifier = current_app.extensions["cardcrm_events"]
    poll = float(current_app.config.get("EVENTS_POLL_SECONDS", POLL_INTERVAL_SECONDS))
    # The request's session read the caller's token: end its transaction before waiting, so a
    # long-poll holds no pooled connection and no lock (an idle transaction's share lock would
    # hold up a migration or TRUNCATE, and a look at the feed would then queue behind that).
    get_session().rollback()
    if args["wait"] and (listener := current_app.extensions.get("cardcrm_event_listener")):
        listener.start()
    with notifier.waiting_slot() if args["wait"] else nullcontext(True) as may_wait:
        # Over the process's limit of waiting long-polls, one poll interval is the longest
        # wait (``EventNotifier.waiting_slot``): the follower asks again, perhaps elsewhere.
        wait = args["wait"] if may_wait else min(args["wait"], poll)
        deadline = time.monotonic() + wait
        while True:
            seen = notifier.seen  # taken before reading, so no commit can slip in between
            rows, where = _read(args["after"], args["limit"])
            remaining = deadline - time.monotonic()
            stop = notifier.stopping or where["newest_id"] < args["after"]
            if rows or remaining <= 0 or stop:
                break
            notifier.wait_for_newer(seen, min(remaining, poll))
    last_id = rows[-1][0] if rows else args["after"]
    # Each event's stored `data` is JSON text already: it goes out as it is, not decoded and
    # encoded again (the feed is read in bulk by every sidecar). EventSchema documents it.
    items = ",".join(
        f'{{"id":{event_id},"uid":"{uid}","type":{json.dumps(kind)},"at":"{isoformat_z(at)}",'
        f'"actor_id":{json.dumps(actor_id)},"data":{data}}}'
        for event_id, uid, kind, at, actor_id, data in rows
    )
    newest_id = max(where["newest_id"], last_id if rows else 0)
    body = (
        f'{{"items":[{items}],"last_id":{last_id},"newest_id":{newest_id},'
        f'"after_uid":{json.dumps(where["after_uid"])},'
        f'"incarnation":{json.dumps(where["incarnation"])}}}'
    )
    return Response(body, mimetype="application/json")


def _read(
    after: int, limit: int
) -> tuple[list[tuple[int, str, str, datetime, int | None, str]], dict[str, Any]]:
    """The events after ``after``, and where the feed is (see the module's docstring)."""
    # A session per look, so that each one sees what committed since the last.
    session = get_db().session()
    try:
        # The newest id before the events: one committed in between is then among them.
        newest_id = newest_event_id(session)
        rows = read_event_rows(session, after, limit)
        where = {
            "newest_id": newest_id,
            "after_uid": event_uid(session, after) if after else None,
            "incarnation": incarnation(session),
        }
        return rows, where
    finally:
        session.close()
