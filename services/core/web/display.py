"""How things read on the page: deadlines, group names, and history lines in plain words
(dates and times themselves are written by dates.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..cards.fields import FIELD_TYPES
from ..products.models import GROUPS
from .dates import day_compact, format_day, format_moment, moment_compact
from .dates import install as install_dates
from .dates import user_zone as user_zone  # where the views have always found it
from .lookups import UserNames
from .numbers import install as install_numbers

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
        return _("%(day)s (all day)", day=format_day(get("due_date"), "day"))
    return format_moment(get("due"), "moment")


def deadline_compact(task: Any) -> str:
    """The same where space is short (Today's rows): Today, Tomorrow, no year this year."""
    get = task.get if isinstance(task, dict) else lambda key: getattr(task, key, None)
    if get("all_day") and get("due_date"):
        return _("%(day)s (all day)", day=day_compact(get("due_date")))
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
    """One history entry in words, e.g. ``moved it from New to Won``: what follows the name of
    whoever did it. Each line is one sentence of the catalogue with named placeholders, since
    word order differs between languages."""
    data = row.data or {}
    task = _task_text(row, data, tasks)
    kind = row.type
    if kind == "card.created":
        return _("created the card")
    if kind == "card.status_changed":
        moves = {
            "before": (data.get("from") or {}).get("name"),
            "after": (data.get("to") or {}).get("name"),
        }
        if data.get("reason"):
            return _(
                "moved it from %(before)s to %(after)s (%(reason)s)", **moves, reason=data["reason"]
            )
        return _("moved it from %(before)s to %(after)s", **moves)
    if kind == "card.updated":
        return _("changed %(changes)s", changes=_changes(data.get("changes") or {}, names, fields))
    if kind == "card.deleted":
        return _("moved the card to the trash")
    if kind == "card.restored":
        return _("restored the card from the trash")
    if kind == "task.created":
        return _("added the task “%(task)s”", task=task)
    if kind == "task.closed":
        return _closed(task, data)
    if kind == "task.reopened":
        return _("reopened “%(task)s”", task=task)
    if kind == "task.postponed":
        before = format_moment((data.get("before") or {}).get("due"))
        after = format_moment((data.get("after") or {}).get("due"))
        return _(
            "postponed “%(task)s” from %(before)s to %(after)s",
            task=task,
            before=before,
            after=after,
        )
    if kind == "task.reassigned":
        change = (data.get("changes") or {}).get("assignee_id") or {}
        name = names.get(change.get("after"), _("nobody"))
        return _("reassigned “%(task)s” to %(name)s", task=task, name=name)
    if kind == "task.updated":
        changes = _changes(data.get("changes") or {}, names, fields)
        return _("edited “%(task)s”: %(changes)s", task=task, changes=changes)
    if kind == "task.deleted":
        return _("deleted the task “%(task)s”", task=task)
    if kind == "note.created":
        return _("wrote a note")
    if kind == "note.updated":
        return _("edited a note")
    if kind == "note.deleted":
        return _("deleted a note: “%(excerpt)s”", excerpt=data.get("excerpt", ""))
    if kind == "file.added":
        return _("added the file “%(name)s”", name=(data.get("file") or {}).get("name", ""))
    if kind == "file.removed":
        return _("removed the file “%(name)s”", name=(data.get("file") or {}).get("name", ""))
    if kind == "email.received":
        return _(
            "filed the e-mail “%(subject)s” from %(sender)s",
            subject=data.get("subject") or _("(no subject)"),
            sender=data.get("from") or _("an unknown sender"),
        )
    if kind == "task.sync_conflict":
        return _("kept the losing side of a calendar sync conflict on “%(task)s”", task=task)
    return str(kind)


def _closed(task: str, data: dict[str, Any]) -> str:
    done = data.get("outcome") == "done"
    if data.get("comment"):
        comment = data["comment"]
        if done:
            return _("closed “%(task)s” as done — %(comment)s", task=task, comment=comment)
        return _("closed “%(task)s” as cancelled — %(comment)s", task=task, comment=comment)
    if done:
        return _("closed “%(task)s” as done", task=task)
    return _("closed “%(task)s” as cancelled", task=task)


def _task_text(row: Any, data: dict[str, Any], tasks: dict) -> str:
    if isinstance(data.get("task"), dict) and data["task"].get("text"):
        return str(data["task"]["text"])
    return tasks.get(row.task_id) or _("task %(id)s", id=row.task_id)


#: What the changes of a card or task edit are called in a history line (the keys of the
#: history's ``changes``; the timeline names a card's contacts ``primary_contact`` and
#: ``other_contacts``). A key not listed shows as itself, with spaces.
CHANGE_LABELS = {
    "title": _l("title"),
    "owner_id": _l("owner"),
    "assignee_id": _l("assignee"),
    "primary_contact": _l("primary contact"),
    "other_contacts": _l("other contacts"),
    "text": _l("text"),
    "type": _l("type"),
    "due": _l("due"),
    "due_date": _l("due date"),
    "all_day": _l("all day"),
    "repeat": _l("repeat"),
}


def _changes(changes: dict[str, Any], names: UserNames, fields: dict[str, str]) -> str:
    parts = []
    for key, change in changes.items():
        before, after = change.get("before"), change.get("after")
        if key in ("owner_id", "assignee_id"):
            before, after = names.get(before, _("nobody")), names.get(after, _("nobody"))
        if key.startswith("fields."):
            label = fields.get(key[len("fields.") :], key[len("fields.") :])
        else:
            label = str(CHANGE_LABELS.get(key) or key.replace("_", " "))
        parts.append(
            _(
                "%(field)s from %(before)s to %(after)s",
                field=label,
                before=_shown(before),
                after=_shown(after),
            )
        )
    return "; ".join(parts) or _("nothing")


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return _("(empty)")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return _("“%(value)s”", value=value)


def install(web: Blueprint) -> None:
    install_dates(web)
    install_numbers(web)
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
