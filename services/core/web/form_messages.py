"""A card form's refusals worded for people, to be shown beside the field they are about.

The API answers with marshmallow's terse texts ("Length must be between 1 and 500.",
"Missing data for required field."); a person filling in a form is better told what to do,
with a custom field named by its label.
"""

from __future__ import annotations

import re
from typing import Any

from cardcrm.common.errors import Invalid
from flask_babel import gettext, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

TITLE_MAX = 500
#: marshmallow's texts this module rewords. They may reach it in English or already in the
#: reader's language (the API's messages are translated centrally), so both are recognised;
#: their translations are the shared catalogue's, hence ``gettext`` of a name, not ``_()``.
REQUIRED = "Missing data for required field."
LENGTH_TEMPLATE = "Length must be between %(min)s and %(max)s."
BLANK_TITLE = _l("Give the card a title.")


def long_title() -> str:
    return ngettext(
        "Keep the title to %(num)d character or fewer.",
        "Keep the title to %(num)d characters or fewer.",
        TITLE_MAX,
    )


def _required(text: str) -> bool:
    return text in (REQUIRED, gettext(REQUIRED))


def _length_patterns() -> list[re.Pattern[str]]:
    """marshmallow's ``Length(min, max)`` message, in English and in the reader's language."""
    patterns = []
    for template in dict.fromkeys((LENGTH_TEMPLATE, gettext(LENGTH_TEMPLATE))):
        pattern = re.escape(template)
        for name in ("min", "max"):
            pattern = pattern.replace(re.escape(f"%({name})s"), rf"(?P<{name}>\d+)")
        patterns.append(re.compile(f"^{pattern}$"))
    return patterns


def fill_in(field: dict[str, Any]) -> str:
    if field.get("type") in ("choice", "multichoice"):
        return _("Choose %(field)s.", field=field["label"])
    return _("Fill in %(field)s.", field=field["label"])


def check_card_form(title: str, required: list[dict[str, Any]], typed: dict[str, Any]) -> None:
    """Refuse a blank title and empty required fields together, so that one round trip shows
    every missing value (the schema would stop at the title)."""
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [str(BLANK_TITLE)]
    for field in required:
        if field["type"] != "checkbox" and typed.get(field["key"]) in (None, "", []):
            errors[f"fields.{field['key']}"] = [fill_in(field)]
    if errors:
        raise Invalid(errors)


def card_messages(
    errors: dict[str, list[str]], title: str, definitions: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """``errors`` (by field, from ``messages_of``) with the schema's texts reworded."""
    by_key = {f"fields.{field['key']}": field for field in definitions}
    worded: dict[str, list[str]] = {}
    for key, texts in errors.items():
        if key == "title":
            worded[key] = [str(BLANK_TITLE) if not title else long_title()]
        elif key in by_key:
            worded[key] = [fill_in(by_key[key]) if _required(text) else text for text in texts]
        else:
            worded[key] = texts
    return worded


def worded(
    errors: dict[str, list[str]], typed: dict[str, Any], blank: dict[str, Any]
) -> dict[str, list[str]]:
    """``errors`` with a length rule's text said plainly: ``blank[key]`` when nothing was
    typed in ``key``, else how long the value may be."""
    result: dict[str, list[str]] = {}
    for key, texts in errors.items():
        value = typed.get(key)
        if key in blank and (value is None or not str(value).strip()):
            result[key] = [str(blank[key])]
        else:
            result[key] = [_plain_length(text) for text in texts]
    return result


def _plain_length(text: str) -> str:
    found = next(filter(None, (pattern.match(text) for pattern in _length_patterns())), None)
    if found is None:
        return text
    shortest, longest = found["min"], int(found["max"])
    if shortest in ("0", "1"):
        return ngettext(
            "Keep it to %(num)d character or fewer.",
            "Keep it to %(num)d characters or fewer.",
            longest,
        )
    return ngettext(
        "Use %(min)s to %(num)d character.",
        "Use %(min)s to %(num)d characters.",
        longest,
        min=shortest,
    )


# --- a task on the card page ------------------------------------------------------------------

NO_TASK_TEXT = _l("Say what is to be done.")
NO_TASK_DATE = _l("Give the deadline's date.")


def check_task_form(typed: dict[str, str]) -> None:
    """Refuse a task without text or date, both at once."""
    errors: dict[str, list[str]] = {}
    if not typed.get("text"):
        errors["text"] = [str(NO_TASK_TEXT)]
    if not typed.get("due_date"):
        errors["due_date"] = [str(NO_TASK_DATE)]
    if errors:
        raise Invalid(errors)


def task_messages(errors: dict[str, list[str]], typed: dict[str, str]) -> dict[str, list[str]]:
    """The schema's messages by the form's inputs: ``due`` is the date (and time) inputs."""
    by_input = dict(errors)
    if "due" in by_input:
        by_input.setdefault("due_date", []).extend(by_input.pop("due"))
    return worded(by_input, typed, {"text": NO_TASK_TEXT, "due_date": NO_TASK_DATE})
