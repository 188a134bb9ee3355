"""The projects process template: from an idea through planning and implementation to done."""

from __future__ import annotations

from typing import Any

from cardcrm.common.plugins import hookimpl

TEMPLATE: dict[str, Any] = {
    "key": "projects",
    "name": "Projects",
    "description": "Projects from the first idea through planning and implementation to review.",
    "statuses": [
        {"name": "Idea", "group": "inactive"},
        {"name": "Planning", "group": "in_progress"},
        {"name": "In implementation", "group": "in_progress"},
        {"name": "Review", "group": "in_progress"},
        {"name": "Finished", "group": "positive"},
        {"name": "Cancelled", "group": "negative"},
    ],
    "fields": [
        {"key": "budget", "label": "Budget", "type": "money", "currency": "EUR"},
        {"key": "start_date", "label": "Start date", "type": "date"},
        {"key": "deadline", "label": "Deadline", "type": "date"},
        {
            "key": "priority",
            "label": "Priority",
            "type": "choice",
            "choices": ["low", "normal", "high"],
        },
        {"key": "remote", "label": "Remote", "type": "checkbox"},
    ],
    "task_types": [{"key": "milestone", "label": "Milestone"}],
}


@hookimpl
def cardcrm_product_templates() -> list[dict[str, Any]]:
    return [TEMPLATE]
