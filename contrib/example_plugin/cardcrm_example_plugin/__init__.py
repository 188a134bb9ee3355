"""An example third-party cardcrm plugin: a support-ticket template and a site-visit task type.

It marks its hooks with its own ``HookimplMarker("cardcrm")`` so that importing it needs only
pluggy, not cardcrm itself.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("cardcrm")

TEMPLATE: dict[str, Any] = {
    "key": "support",
    "name": "Support tickets",
    "description": "Customer requests from the first report to solved or won't fix.",
    "statuses": [
        {"name": "New", "group": "inactive"},
        {"name": "Triaged", "group": "in_progress"},
        {"name": "Waiting for customer", "group": "in_progress"},
        {"name": "Solved", "group": "positive"},
        {"name": "Won't fix", "group": "negative"},
    ],
    "fields": [
        {
            "key": "priority",
            "label": "Priority",
            "type": "choice",
            "choices": ["low", "normal", "high", "urgent"],
        },
        {"key": "customer_email", "label": "Customer e-mail", "type": "email"},
    ],
    "task_types": [{"key": "callback", "label": "Callback"}],
}


@hookimpl
def cardcrm_product_templates() -> list[dict[str, Any]]:
    return [TEMPLATE]


@hookimpl
def cardcrm_task_types() -> list[dict[str, str]]:
    return [{"key": "site_visit", "label": "Site visit"}]
