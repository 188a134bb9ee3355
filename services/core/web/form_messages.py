"""A card form's refusals worded for people, to be shown beside the field they are about.

The API answers with marshmallow's terse texts ("Length must be between 1 and 500.",
"Missing data for required field."); a person filling in a form is better told what to do,
with a custom field named by its label.
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.errors import Invalid

TITLE_MAX = 500
REQUIRED = "Missing data for required field."
BLANK_TITLE = "Give the card a title."
LONG_TITLE = f"Keep the title to {TITLE_MAX} characters or fewer."


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
