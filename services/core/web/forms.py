"""Reading HTML forms: text to typed values, custom card fields, and error messages by field.

Forms are turned into the same dicts the JSON API receives and checked by the same marshmallow
schemas, so a rule is never written twice. Anything unparsable becomes a message, never a 500.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from cardcrm.common.errors import CardcrmError, Invalid
from cardcrm.common.input_rules import INTEGER_MAX, INTEGER_MIN, OUT_OF_RANGE, check_text
from cardcrm.common.timeutil import isoformat_z
from cardcrm.common.validation_messages import translate_messages
from flask import request
from flask_babel import gettext as _
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

FIELD_INPUT_PREFIX = "field."


def refuse_control_characters() -> None:
    """Refuse a page request whose query or form holds a control character (the text rule of
    ``cardcrm.common.text``, as the API applies it): a 422 page naming the field, before any
    view reads a value. Runs before every web view (``web.init_app``)."""
    texts: dict[str, list[str]] = {}
    for source in (request.args, request.form):
        for key, values in source.lists():
            texts.setdefault(key, []).extend(values)
    check_text({key: values[0] if len(values) == 1 else values for key, values in texts.items()})


def text(name: str, form: MultiDict | None = None) -> str:
    value = (request.form if form is None else form).get(name, "")
    return value.strip() if isinstance(value, str) else ""


def optional_int(name: str, form: MultiDict | None = None, label: str | None = None) -> int | None:
    raw = text(name, form)
    if raw == "":
        return None
    try:
        number = int(raw)
    except ValueError as error:
        raise Invalid({label or name: [_("Choose one of the options.")]}) from error
    if not INTEGER_MIN <= number <= INTEGER_MAX:
        raise Invalid({label or name: [OUT_OF_RANGE]})
    return number


def required_int(name: str, form: MultiDict | None = None, label: str | None = None) -> int:
    value = optional_int(name, form, label)
    if value is None:
        raise Invalid({label or name: [_("Choose one of the options.")]})
    return value


def optional_date(name: str, form: MultiDict | None = None) -> date | None:
    raw = text(name, form)
    if raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as error:
        raise Invalid({name: [_("Not a date (YYYY-MM-DD).")]}) from error


def messages_of(error: Exception) -> dict[str, list[str]]:
    """Messages by field of an ``Invalid`` or a marshmallow ``ValidationError``."""
    if isinstance(error, ValidationError):
        raw: Any = error.messages
    elif isinstance(error, CardcrmError):
        raw = error.extra.get("errors") or {}
    else:
        raw = {}
    if not isinstance(raw, dict):
        raw = {"_": raw}
    return {str(key): _flatten(value) for key, value in translate_messages(raw).items()}


def _flatten(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [message for item in value.values() for message in _flatten(item)]
    if isinstance(value, list):
        return [message for item in value for message in _flatten(item)]
    return [str(value)]


def safe_next(target: str | None, default: str) -> str:
    """A local path to go back to; anything pointing elsewhere falls back to ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


# --- custom card fields ------------------------------------------------------------------------


def field_form_values(definitions: list[dict[str, Any]], stored: dict[str, Any], zone: ZoneInfo):
    """Stored card field values as the strings (or lists, booleans) the form inputs show."""
    values: dict[str, Any] = {}
    for definition in definitions:
        key, kind = definition["key"], definition["type"]
        value = stored.get(key)
        if value is None:
            values[key] = [] if kind == "multichoice" else (False if kind == "checkbox" else "")
        elif kind == "datetime":
            values[key] = _local_datetime_input(value, zone)
        elif kind == "number" and isinstance(value, float) and value.is_integer():
            values[key] = str(int(value))
        elif kind in ("multichoice", "checkbox"):
            values[key] = value
        else:
            values[key] = str(value)
    return values


def typed_field_values(definitions: list[dict[str, Any]], form: MultiDict) -> dict[str, Any]:
    """What the user typed in the custom field inputs, kept as typed (to show them again)."""
    values: dict[str, Any] = {}
    for definition in definitions:
        name = FIELD_INPUT_PREFIX + definition["key"]
        if definition["type"] == "multichoice":
            values[definition["key"]] = form.getlist(name)
        elif definition["type"] == "checkbox":
            values[definition["key"]] = form.get(name) is not None
        else:
            values[definition["key"]] = form.get(name, "").strip()
    return values


def field_changes(
    definitions: list[dict[str, Any]], typed: dict[str, Any], zone: ZoneInfo
) -> dict[str, Any]:
    """Typed values as the API's ``fields`` object; empty inputs clear a value (``None``)."""
    changes: dict[str, Any] = {}
    for definition in definitions:
        key, kind = definition["key"], definition["type"]
        value = typed.get(key)
        if kind == "multichoice":
            changes[key] = list(value or []) or None
        elif kind == "checkbox":
            changes[key] = bool(value)
        elif value in (None, ""):
            changes[key] = None
        elif kind == "datetime":
            changes[key] = _datetime_from_input(value, zone)
        else:
            changes[key] = value
    return changes


def _local_datetime_input(value: Any, zone: ZoneInfo) -> str:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return str(value)
    try:
        return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    except OverflowError:  # stored before values past the supported calendar were refused
        return str(value)


def _datetime_from_input(value: str, zone: ZoneInfo) -> str:
    """A ``datetime-local`` value, read in the user's zone, as RFC 3339 (left as is if bad)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return isoformat_z(moment) or value


def deadline_payload(day: date, at: time | None, zone: ZoneInfo) -> tuple[str, bool]:
    """A task's ``due`` and ``all_day`` from a date and an optional time of day in ``zone``."""
    if at is None:
        return day.isoformat(), True
    return datetime.combine(day, at, tzinfo=zone).isoformat(), False


def optional_time(name: str, form: MultiDict | None = None) -> time | None:
    raw = text(name, form)
    if raw == "":
        return None
    try:
        return time.fromisoformat(raw)
    except ValueError as error:
        raise Invalid({name: [_("Not a time of day (HH:MM).")]}) from error
