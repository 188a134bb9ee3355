"""The sales process template: from a database of prospects through offers to won or lost deals."""

from __future__ import annotations

from typing import Any

from cardcrm.common.plugins import hookimpl

TEMPLATE: dict[str, Any] = {
    "key": "sales",
    "name": "Sales",
    "description": "Prospects and deals, from the first contact to a won or lost sale.",
    "statuses": [
        {"name": "Database", "group": "inactive"},
        {"name": "Lead", "group": "inactive"},
        {"name": "Offer sent", "group": "in_progress"},
        {"name": "Follow-up", "group": "in_progress"},
        {"name": "Negotiation", "group": "in_progress"},
        {"name": "Won", "group": "positive"},
        {"name": "Lost", "group": "negative"},
    ],
    "fields": [
        {"key": "value", "label": "Deal value", "type": "money", "currency": "EUR"},
        {"key": "expected_close_date", "label": "Expected close date", "type": "date"},
        {
            "key": "source",
            "label": "Source",
            "type": "choice",
            "choices": ["Website", "Referral", "Cold call", "Trade fair", "Social media", "Other"],
        },
        {"key": "contact_email", "label": "Contact e-mail", "type": "email"},
        {"key": "contact_phone", "label": "Contact phone", "type": "phone"},
    ],
    "task_types": [{"key": "demo", "label": "Demo"}],
}


@hookimpl
def cardcrm_product_templates() -> list[dict[str, Any]]:
    return [TEMPLATE]
