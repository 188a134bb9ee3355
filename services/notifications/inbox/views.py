"""HTTP API of the in-app inbox."""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import ApiBlueprint, Page
from cardcrm.common.db import get_session
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.sidecar.auth import current_user

from . import service
from .schemas import InboxArgsSchema, InboxItemSchema, InboxSummarySchema, ReadAllSchema

bp = ApiBlueprint("inbox", __name__, tag="Inbox")


@bp.operation(
    "/inbox", query=InboxArgsSchema, response=InboxItemSchema, paginated=True, errors=(401,)
)
def list_inbox(args: dict[str, Any]) -> Page:
    """The caller's in-app notifications, newest first."""
    before = (decode_cursor(args.get("cursor")) or {}).get("before")
    before = before if isinstance(before, int) else None
    limit = args["limit"]
    items = service.list_items(
        get_session(), current_user()["id"], before, args.get("unread"), limit + 1
    )
    cursor = None
    if len(items) > limit:
        items = items[:limit]
        cursor = encode_cursor({"before": items[-1].id})
    return Page(items, cursor)


@bp.operation("/inbox/summary", response=InboxSummarySchema, errors=(401,))
def inbox_summary() -> Any:
    """How many of the caller's notifications are unread, and the newest one's id."""
    return service.summary(get_session(), current_user()["id"])


@bp.operation("/inbox/<int:item_id>/read", "POST", response=InboxItemSchema, errors=(401, 404))
def read_item(item_id: int) -> Any:
    """Mark one of the caller's notifications read."""
    return service.mark_read(get_session(), current_user()["id"], item_id)


@bp.operation("/inbox/read-all", "POST", response=ReadAllSchema, errors=(401,))
def read_all() -> Any:
    """Mark all the caller's notifications read."""
    return {"marked": service.mark_all_read(get_session(), current_user()["id"])}
