"""How things read on the page: deadlines, group names, and history lines in plain words
(dates and times themselves are written by dates.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, request
from flask_babel import lazy_gettext as _l

from ..cards.fields import FIELD_TYPES
from ..products.models import GROUPS
from .dates import day_compact, format_day, format_moment, moment_compact
from .dates import install as install_dates
from .dates import user_zone as user_zone  # where the views have always found it
from .lookups import UserNames

#: The vendored htmx (static/htmx.min.js; see static/NOTICE.txt).
HTMX_VERSION = "2.0.11"

#: What the status groups are called on pages, in the reader's language (lazy: said when shown).
GROUP_LABELS = {
    "inactive": _l("Not started"),
    "in_progress": _l("In progress"),
    "positive": _l("Positive result"),
    "negative": _l("Negative result"),
}

#: What the field types are called on pages (the API and CSV keep the type's key).
FIELD_TYPE_LABELS = {
    "text": _l("Text"),
    "number": _l("Number"),
    "money": _l("Amount of money"),
    "date": _l("Date"),
    "datetime": _l("Date and time"),
    "choice": _l("One choice from a list"),
    "multichoice": _l("Several choices from a list"),
    "checkbox": _l("Yes or no"),
    "email": _l("E-mail address"),
    "phone": _l("Phone number"),
    "url": _l("Web address"),
}


def deadline(task: Any) -> str:
    """A task's deadline as people say it: a date for all-day tasks, else date and time."""
    get = task.get if isinstance(task, dict) else lambda key: getattr(task, key, None)
    if get("all_day") and get("due_date"):
        return format_day(get("due_date"), "day") + " (all day)"
    return format_moment(get("due"), "moment")


def deadline_compact(task: Any) -> str:
    """The same where space is short (Today's rows): Today, Tomorrow, no year this year."""
    get = task.get if isinstance(task, dict) else lambda key: getattr(task, key, None)
    if get("all_day") and get("due_date"):
        return day_compact(get("due_date")) + " (all day)"
    return moment_compact(get("due"))


def status_name(statuses: dict[int, Any], status_ref: Any) -> str:
    if isinstance(status_ref, dict):
        return str(status_ref.get("name", ""))
    status = statuses.get(status_ref)
    return status.name if status else f"status {status_ref}"


def query_with(**changes: Any) -> str:
    """The current query string with some keys replaced (``None`` removes a key)."""
    args = {key: value for key, value in request.args.items()}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return "?" + urlencode(args) if args else "?"


def history_line(row: Any, names: UserNames, fields: dict[str, str], tasks: dict) -> str:
    """One history entry in words, e.g. ``moved it from New to Won``."""
    data = row.data or {}
    task = _task_text(row, data, tasks)
    kind = row.type
    if kind == "card.created":
        return "created the card"
    if kind == "card.status_changed":
        line = (
            f"moved it from {data.get('from', {}).get('name')} to {data.get('to', {}).get('name')}"
        )
        return line + (f" ({data['reason']})" if data.get("reason") else "")
    if kind == "card.updated":
        return "changed " + _changes(data.get("changes") or {}, names, fields)
    if kind == "card.deleted":
        return "moved the card to the trash"
    if kind == "card.restored":
        return "restored the card from the trash"
    if kind == "task.created":
        return f"added the task “{task}”"
    if kind == "task.closed":
        outcome = "done" if data.get("outcome") == "done" else "cancelled"
        comment = f" — {data['comment']}" if data.get("comment") else ""
        return f"closed “{task}” as {outcome}{comment}"
    if kind == "task.reopened":
        return f"reopened “{task}”"
    if kind == "task.postponed":
        before = format_moment((data.get("before") or {}).get("due"))
        after = format_moment((data.get("after") or {}).get("due"))
        return f"postponed “{task}” from {before} to {after}"
    if kind == "task.reassigned":
        change = (data.get("changes") or {}).get("assignee_id") or {}
        return f"reassigned “{task}” to {names.get(change.get('after'), 'nobody')}"
    if kind == "task.updated":
        return f"edited “{task}”: " + _changes(data.get("changes") or {}, names, fields)
    if kind == "task.deleted":
        return f"deleted the task “{task}”"
    if kind == "note.created":
        return "wrote a note"
    if kind == "note.updated":
        return "edited a note"
    if kind == "note.deleted":
        return f"deleted a note: “{data.get('excerpt', '')}”"
    if kind in ("file.added", "file.removed"):
        name = (data.get("file") or {}).get("name", "")
        return f"{'added' if kind == 'file.added' else 'removed'} the file “{name}”"
    if kind == "email.received":
        subject = data.get("subject") or "(no subject)"
        return f"filed the e-mail “{subject}” from {data.get('from') or 'an unknown sender'}"
    if kind == "task.sync_conflict":
        return f"kept the losing side of a calendar sync conflict on “{task}”"
    return kind


def _task_text(row: Any, data: dict[str, Any], tasks: dict) -> str:
    if isinstance(data.get("task"), dict) and data["task"].get("text"):
        return str(data["task"]["text"])
    return tasks.get(row.task_id, f"task {row.task_id}")


def _changes(changes: dict[str, Any], names: UserNames, fields: dict[str, str]) -> str:
    parts = []
    for key, change in changes.items():
        before, after = change.get("before"), change.get("after")
        if key in ("owner_id", "assignee_id"):
            label = "owner" if key == "owner_id" else "assignee"
            before, after = names.get(before, "nobody"), names.get(after, "nobody")
        elif key.startswith("fields."):
            label = fields.get(key[len("fields.") :], key[len("fields.") :])
        else:
            label = key.replace("_", " ")
        parts.append(f"{label} from {_shown(before)} to {_shown(after)}")
    return "; ".join(parts) or "nothing"


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return f"“{value}”"


def install(web: Blueprint) -> None:
    install_dates(web)
    web.add_app_template_filter(deadline, "deadline")
    web.add_app_template_filter(deadline_compact, "deadline_compact")
    web.add_app_template_global(query_with, "query_with")
    constants = {
        "GROUP_LABELS": GROUP_LABELS,
        "GROUPS": GROUPS,
        "FIELD_TYPES": FIELD_TYPES,
        "FIELD_TYPE_LABELS": FIELD_TYPE_LABELS,
        "HTMX_VERSION": HTMX_VERSION,
    }
    web.record_once(lambda state: state.app.jinja_env.globals.update(constants))
    web.context_processor(lambda: {"sidecars": configured_sidecars()})


def configured_sidecars() -> set[str]:
    """The sidecars mounted beside core (``SIDECARS``: a list or comma-separated names)."""
    configured = current_app.config.get("SIDECARS") or []
    if isinstance(configured, str):
        configured = configured.split(",")
    return {str(name).strip() for name in configured if str(name).strip()}
