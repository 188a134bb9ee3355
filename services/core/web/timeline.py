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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cards import service
from ..cards.models import Card
from ..contacts.models import Contact
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
    ("", _l("All")),
    ("note", _l("Notes")),
    ("email", _l("E-mails")),
    ("file", _l("Files")),
    ("task", _l("Tasks")),
    ("history", _l("History")),
)
#: Card edits of contacts, and how the timeline names them.
CONTACT_CHANGES = {"contact_id": "primary_contact", "contact_ids": "other_contacts"}
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
    people = _contact_names(db, entries)
    return {
        "timeline": [_shown(entry, names, labels, people) for entry in entries],
        "timeline_kind": kind,
        "timeline_after": cursor if before else None,
        "timeline_next": cursor_of(last),
        "timeline_filters": FILTERS,
    }


def _contact_names(db: Session, entries: list[Entry]) -> dict[int, str]:
    """Names of the contacts that the page's card edits linked or unlinked."""
    ids: set[int] = set()
    for entry in entries:
        changes = entry.data.get("data", {}).get("changes") if entry.kind == "history" else None
        for key in CONTACT_CHANGES:
            change = (changes or {}).get(key) or {}
            for value in (change.get("before"), change.get("after")):
                ids.update(v for v in (value if isinstance(value, list) else [value]) if v)
    if not ids:
        return {}
    rows = db.execute(select(Contact.id, Contact.name).where(Contact.id.in_(ids))).all()
    return {contact_id: name for contact_id, name in rows}


def _with_contact_names(data: dict[str, Any], people: dict[int, str]) -> dict[str, Any]:
    """A card edit's changes with contacts by name ("primary contact from “Ana” to “Ion”")."""
    changes = dict(data.get("changes") or {})
    for key, label in CONTACT_CHANGES.items():
        if key in changes:
            change = changes.pop(key) or {}

            def named(value: Any) -> Any:
                if isinstance(value, list):
                    return [people.get(v) or _("contact %(id)s", id=v) for v in value]
                if value is None:
                    return None
                return people.get(value) or _("contact %(id)s", id=value)

            changes[label] = {key: named(change.get(key)) for key in ("before", "after")}
    return {**data, "changes": changes}


def _shown(
    entry: Entry, names: UserNames, labels: dict[str, str], people: dict[int, str]
) -> dict[str, Any]:
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
            data=_with_contact_names(change.get("data") or {}, people),
            task_id=data.get("id") if entry.kind == "task" else data.get("task_id"),
        )
        texts = (
            {data.get("id"): data.get("text")} if entry.kind == "task" and data.get("text") else {}
        )
        item["who"] = names.get(change.get("user_id"), _("The system"))
        item["text"] = history_line(row, names, labels, texts)
    elif entry.kind == "note":
        item["who"] = names.get(data.get("author_id"), _("Someone"))
        item["text"] = _("wrote a note")
    elif entry.kind == "file":
        item["who"] = names.get(data.get("uploaded_by"), _("Someone"))
        item["text"] = _("added the file “%(name)s”", name=data.get("name", ""))
    elif entry.kind == "email":
        item["who"] = str(data.get("from") or _("Someone"))
        subject = data.get("subject") or _("(no subject)")
        item["text"] = _("sent the e-mail “%(subject)s”", subject=subject)
    else:
        item["who"], item["text"] = "", entry.kind
    return item


CARD_PAGE_PARTS.append(timeline_context)
