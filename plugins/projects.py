"""The projects process template: from an idea through planning and implementation to done."""

from __future__ import annotations

from typing import Any

from cardcrm.common.plugins import hookimpl
from flask_babel import lazy_gettext as _l

from . import TRANSLATIONS

TEMPLATE: dict[str, Any] = {
    "key": "projects",
    "name": _l("Projects"),
    "description": _l(
        "Projects from the first idea through planning and implementation to review."
    ),
    "statuses": [
        {"name": _l("Idea"), "group": "inactive"},
        {"name": _l("Planning"), "group": "in_progress"},
        {"name": _l("In implementation"), "group": "in_progress"},
        {"name": _l("Review"), "group": "in_progress"},
        {"name": _l("Finished"), "group": "positive"},
        {"name": _l("Cancelled"), "group": "negative"},
    ],
    "fields": [
        {"key": "budget", "label": _l("Budget"), "type": "money", "currency": "EUR"},
        {"key": "start_date", "label": _l("Start date"), "type": "date"},
        {"key": "deadline", "label": _l("Deadline"), "type": "date"},
        {
            "key": "priority",
            "label": _l("Priority"),
            "type": "choice",
            "choices": ["low", "normal", "high"],
        },
        {"key": "remote", "label": _l("Remote"), "type": "checkbox"},
    ],
    "task_types": [{"key": "milestone", "label": _l("Milestone")}],
}


@hookimpl
def cardcrm_product_templates() -> list[dict[str, Any]]:
    return [TEMPLATE]


@hookimpl
def cardcrm_translation_directories() -> list[Any]:
    return [TRANSLATIONS]
