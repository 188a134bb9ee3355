"""Reading a card's timeline: one page merged from every chosen source, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.timeutil import isoformat_z
from cardcrm.common.translate import N_
from sqlalchemy.orm import Session

from ..cards.models import Card
from . import SOURCES, Entry, Position

BAD_CURSOR = {"cursor": [N_("Not a cursor this API gave out.")]}


def read_timeline(
    session: Session, card: Card, kinds: list[str], before: Position | None, limit: int
) -> tuple[list[Entry], Position | None]:
    """At most ``limit`` entries of ``kinds`` (empty: all) after ``before``, newest first, and
    the position the next page starts after (``None``: this is the last page).

    Each source gives up to ``limit + 1`` of its own entries, in order; the newest ``limit +
    1`` of their union are the page plus the proof that another page exists.
    """
    chosen = [kind for kind in SOURCES if not kinds or kind in kinds]
    entries: list[Entry] = []
    for kind in chosen:
        entries.extend(SOURCES[kind](session, card, before, limit + 1))
    entries.sort(key=lambda entry: entry.position, reverse=True)
    if len(entries) > limit:
        return entries[:limit], entries[limit - 1].position
    return entries, None


def item_json(entry: Entry) -> dict[str, Any]:
    """The API's item: ``{"kind", "at", "id": "<kind>-<id>", "<kind>": the object}``."""
    return {
        "kind": entry.kind,
        "at": entry.at,
        "id": f"{entry.kind}-{entry.id}",
        entry.kind: entry.data,
    }


def cursor_of(position: Position | None) -> str | None:
    if position is None:
        return None
    return encode_cursor({"at": isoformat_z(position.at), "kind": position.kind, "id": position.id})


def position_of(cursor: str | None) -> Position | None:
    """The position a cursor of ``cursor_of`` names; anything else is a 422."""
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    at, kind, entry_id = raw.get("at"), raw.get("kind"), raw.get("id")
    if not (isinstance(at, str) and isinstance(kind, str) and type(entry_id) is int):
        raise Invalid(BAD_CURSOR)
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("no offset")
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise Invalid(BAD_CURSOR) from error
    if not -(2**63) < entry_id < 2**63 or len(kind) > 64:
        raise Invalid(BAD_CURSOR)
    return Position(moment, kind, entry_id)
