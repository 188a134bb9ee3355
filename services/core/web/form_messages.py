"""A card form's refusals worded for people, to be shown beside the field they are about.

The API answers with marshmallow's terse texts ("Length must be between 1 and 500.",
"Missing data for required field."); a person filling in a form is better told what to do,
with a custom field named by its label.
"""

from __future__ import annotations

import re
from typing import Any

from cardcrm.common.errors import Invalid

TITLE_MAX = 500
REQUIRED = "Missing data for required field."
BLANK_TITLE = "Give the card a title."
LONG_TITLE = f"Keep the title to {TITLE_MAX} characters or fewer."
#: marshmallow's ``Length(min=1, max=N)`` message.
LENGTH = re.compile(r"^Length must be between (\d+) and (\d+)\.$")


def fill_in(field: dict[str, Any]) -> str:
    if field.get("type") in ("choice", "multichoice"):
        return f"Choose {field['label']}."
    return f"Fill in {field['label']}."


def check_card_form(title: str, required: list[dict[str, Any]], typed: dict[str, Any]) -> None:
    """Refuse a blank title and empty required fields together, so that one round trip shows
    every missing value (the schema would stop at the title)."""
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [BLANK_TITLE]
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
            worded[key] = [BLANK_TITLE if not title else LONG_TITLE]
        elif key in by_key:
            worded[key] = [fill_in(by_key[key]) if text == REQUIRED else text for text in texts]
        else:
            worded[key] = texts
    return worded


def worded(
    errors: dict[str, list[str]], typed: dict[str, Any], blank: dict[str, str]
) -> dict[str, list[str]]:
    """``errors`` with a length rule's text said plainly: ``blank[key]`` when nothing was
    typed in ``key``, else how long the value may be."""
    result: dict[str, list[str]] = {}
    for key, texts in errors.items():
        value = typed.get(key)
        if key in blank and (value is None or not str(value).strip()):
            result[key] = [blank[key]]
        else:
            result[key] = [_plain_length(text) for text in texts]
    return result


def _plain_length(text: str) -> str:
    found = LENGTH.match(text)
    if found is None:
        return text
    shortest, longest = found.groups()
    if shortest in ("0", "1"):
        return f"Keep it to {longest} characters or fewer."
    return f"Use {shortest} to {longest} characters."


# --- a task on the card page ------------------------------------------------------------------

NO_TASK_TEXT = "Say what is to be done."
NO_TASK_DATE = "Give the deadline's date."


def check_task_form(typed: dict[str, str]) -> None:
    """Refuse a task without text or date, both at once."""
    errors: dict[str, list[str]] = {}
    if not typed.get("text"):
        errors["text"] = [NO_TASK_TEXT]
    if not typed.get("due_date"):
        errors["due_date"] = [NO_TASK_DATE]
    if errors:
        raise Invalid(errors)


def task_messages(errors: dict[str, list[str]], typed: dict[str, str]) -> dict[str, list[str]]:
    """The schema's messages by the form's inputs: ``due`` is the date (and time) inputs."""
    by_input = dict(errors)
    if "due" in by_input:
        by_input.setdefault("due_date", []).extend(by_input.pop("due"))
    return worded(by_input, typed, {"text": NO_TASK_TEXT, "due_date": NO_TASK_DATE})
