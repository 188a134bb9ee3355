"""The card page's timeline panel: notes, e-mails, files, task changes and history, newest
first, with a kind filter and "Show older" pages.

The panel reloads its first page whenever the page says the card changed (the ``card-changed``
event on ``body``: an htmx answer's ``HX-Trigger`` or a script's own event), so what the user
just did shows up without a reload. Without JavaScript the filter and "Show older" are links to
the card page itself (``?kind=`` and ``?cursor=``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid
from flask import Blueprint, render_template, request
from sqlalchemy.orm import Session

from ..cards import service
from ..cards.models import Card
from ..timeline import Entry
from ..timeline import history as _history_sources  # noqa: F401  (the task and history kinds)
from ..timeline.schemas import KINDS
from ..timeline.service import cursor_of, position_of, read_timeline
from .cards import CARD_PAGE_PARTS
from .display import history_line
from .lookups import UserNames, all_users, user_names
from .security import current_user, is_htmx

bp = Blueprint("timeline", __name__)

PAGE_SIZE = 25
#: The filter's choices: (value of ``kind``, label); "" is everything.
FILTERS = (
    ("", "All"),
    ("note", "Notes"),
    ("email", "E-mails"),
    ("file", "Files"),
    ("task", "Tasks"),
    ("history", "History"),
)
ICONS = {"note": "✎", "email": "✉", "file": "📎", "task": "✓", "history": "•"}


@bp.get("/cards/<int:card_id>/timeline")
def panel(card_id: int) -> Any:
    """The panel (its first page, or with ``cursor`` and htmx only the older items)."""
    db = get_session()
    card = service.get_card(db, card_id, viewer=current_user())
    context = timeline_context(db, card)
    template = "cards/_timeline_items.html" if context["timeline_after"] else "cards/_timeline.html"
    if not is_htmx():
        template = "cards/_timeline.html"
    return render_template(template, card=card, **context)


def timeline_context(db: Session, card: Card) -> dict[str, Any]:
    """The panel's page: ``?kind=`` (one of the filter's kinds) and ``?cursor=``."""
    kind = request.args.get("kind", "")
    kind = kind if kind in KINDS else ""
    cursor = request.args.get("cursor") or None
    try:
        before = position_of(cursor[:1000] if cursor else None)
    except Invalid:
        before, cursor = None, None
    entries, last = read_timeline(db, card, [kind] if kind else [], before, PAGE_SIZE)
    names = user_names(all_users(db))
    labels = {field["key"]: field["label"] for field in card.product.fields}
    return {
        "timeline": [_shown(entry, names, labels) for entry in entries],
        "timeline_kind": kind,
        "timeline_after": cursor if before else None,
        "timeline_next": cursor_of(last),
        "timeline_filters": FILTERS,
    }


def _shown(entry: Entry, names: UserNames, labels: dict[str, str]) -> dict[str, Any]:
    """An entry as the panel shows it: icon, who, when, and a line in words."""
    data = entry.data
    item: dict[str, Any] = {
        "kind": entry.kind,
        "at": entry.at,
        "id": f"{entry.kind}-{entry.id}",
        "icon": ICONS.get(entry.kind, "•"),
        "data": data,
        entry.kind: data,
    }
    if entry.kind in ("task", "history"):
        change = data.get("change", {}) if entry.kind == "task" else data
        row = SimpleNamespace(
            type=change.get("type"),
            data=change.get("data") or {},
            task_id=data.get("id") if entry.kind == "task" else data.get("task_id"),
        )
        texts = (
            {data.get("id"): data.get("text")} if entry.kind == "task" and data.get("text") else {}
        )
        item["who"] = names.get(change.get("user_id"), "The system")
        item["text"] = history_line(row, names, labels, texts)
    elif entry.kind == "note":
        item["who"] = names.get(data.get("author_id"), "Someone")
        item["text"] = "wrote a note"
    elif entry.kind == "file":
        item["who"] = names.get(data.get("uploaded_by"), "Someone")
        item["text"] = f"added the file “{data.get('name', '')}”"
    elif entry.kind == "email":
        item["who"] = str(data.get("from") or "Someone")
        item["text"] = f"sent the e-mail “{data.get('subject') or '(no subject)'}”"
    else:
        item["who"], item["text"] = "", entry.kind
    return item


CARD_PAGE_PARTS.append(timeline_context)
