"""HTTP API of a card's timeline."""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import ApiBlueprint, Page
from cardcrm.common.db import get_session

from ..auth.service import current_user
from ..cards.service import get_card
from . import history as _history_sources  # noqa: F401  (registers the task and history kinds)
from .schemas import TimelineArgsSchema, TimelineItemSchema
from .service import cursor_of, item_json, position_of, read_timeline

bp = ApiBlueprint("timeline", __name__, tag="Cards")


@bp.operation(
    "/cards/<int:card_id>/timeline",
    query=TimelineArgsSchema,
    response=TimelineItemSchema,
    paginated=True,
    errors=(404, 422),
)
def card_timeline(card_id: int, args: dict[str, Any]) -> Page:
    """A card's notes, e-mails, files, task changes and history in one list, newest first.

    Items are ordered by time, then kind, then id (all descending); a page's cursor is where it
    ended, so items sharing a time are neither repeated nor skipped across pages. ``kind``
    keeps only some kinds (repeatable, or comma-separated); an unknown kind is a 422.
    """
    session = get_session()
    card = get_card(session, card_id, viewer=current_user())
    before = position_of(args.get("cursor"))
    entries, last = read_timeline(session, card, args["kind"], before, args["limit"])
    return Page([item_json(entry) for entry in entries], cursor_of(last))
