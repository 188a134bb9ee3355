"""The recruiting process template: candidates from the first CV to hired or rejected."""

from __future__ import annotations

from typing import Any

from cardcrm.common.plugins import hookimpl

TEMPLATE: dict[str, Any] = {
    "key": "recruiting",
    "name": "Recruiting",
    "description": "Candidates for open positions, from screening and interviews to an offer.",
    "statuses": [
        {"name": "Candidate", "group": "inactive"},
        {"name": "Screening", "group": "in_progress"},
        {"name": "Interview", "group": "in_progress"},
        {"name": "Offer", "group": "in_progress"},
        {"name": "Hired", "group": "positive"},
        {"name": "Rejected", "group": "negative"},
        {"name": "Withdrew", "group": "negative"},
    ],
    "fields": [
        {"key": "position", "label": "Position", "type": "text", "required": True},
        {"key": "email", "label": "E-mail", "type": "email"},
        {"key": "phone", "label": "Phone", "type": "phone"},
        {"key": "cv_url", "label": "CV", "type": "url"},
        {"key": "expected_salary", "label": "Expected salary", "type": "money", "currency": "EUR"},
        {
            "key": "skills",
            "label": "Skills",
            "type": "multichoice",
            "choices": ["Python", "JavaScript", "SQL", "DevOps", "Design", "Sales", "Management"],
        },
    ],
    "task_types": [{"key": "interview", "label": "Interview"}],
}


@hookimpl
def cardcrm_product_templates() -> list[dict[str, Any]]:
    return [TEMPLATE]
