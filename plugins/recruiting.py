"""The recruiting process template: candidates from the first CV to hired or rejected."""

from __future__ import annotations

from typing import Any

from cardcrm.common.plugins import hookimpl
from flask_babel import lazy_gettext as _l

from . import TRANSLATIONS

TEMPLATE: dict[str, Any] = {
    "key": "recruiting",
    "name": _l("Recruiting"),
    "description": _l("Candidates for open positions, from screening and interviews to an offer."),
    "statuses": [
        {"name": _l("Candidate"), "group": "inactive"},
        {"name": _l("Screening"), "group": "in_progress"},
        {"name": _l("Interview"), "group": "in_progress"},
        {"name": _l("Offer"), "group": "in_progress"},
        {"name": _l("Hired"), "group": "positive"},
        {"name": _l("Rejected"), "group": "negative"},
        {"name": _l("Withdrew"), "group": "negative"},
    ],
    "fields": [
        {"key": "position", "label": _l("Position"), "type": "text", "required": True},
        {"key": "email", "label": _l("E-mail"), "type": "email"},
        {"key": "phone", "label": _l("Phone"), "type": "phone"},
        {"key": "cv_url", "label": _l("CV"), "type": "url"},
        {
            "key": "expected_salary",
            "label": _l("Expected salary"),
            "type": "money",
            "currency": "EUR",
        },
        {
            "key": "skills",
            "label": _l("Skills"),
            "type": "multichoice",
            "choices": ["Python", "JavaScript", "SQL", "DevOps", "Design", "Sales", "Management"],
        },
    ],
    "task_types": [{"key": "interview", "label": _l("Interview")}],
}


@hookimpl
def cardcrm_product_templates() -> list[dict[str, Any]]:
    return [TEMPLATE]


@hookimpl
def cardcrm_translation_directories() -> list[Any]:
    return [TRANSLATIONS]
