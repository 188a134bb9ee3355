"""The sales process template: from a database of prospects through offers to won or lost deals."""

from __future__ import annotations

from typing import Any

from cardcrm.common.plugins import hookimpl
from flask_babel import lazy_gettext as _l

from . import TRANSLATIONS

TEMPLATE: dict[str, Any] = {
    "key": "sales",
    "name": _l("Sales"),
    "description": _l("Prospects and deals, from the first contact to a won or lost sale."),
    "statuses": [
        {"name": _l("Database"), "group": "inactive"},
        {"name": _l("Lead"), "group": "inactive"},
        {"name": _l("Offer sent"), "group": "in_progress"},
        {"name": _l("Follow-up"), "group": "in_progress"},
        {"name": _l("Negotiation"), "group": "in_progress"},
        {"name": _l("Won"), "group": "positive"},
        {"name": _l("Lost"), "group": "negative"},
    ],
    "fields": [
        {"key": "value", "label": _l("Deal value"), "type": "money", "currency": "EUR"},
        {"key": "expected_close_date", "label": _l("Expected close date"), "type": "date"},
        {
            "key": "source",
            "label": _l("Source"),
            "type": "choice",
            "choices": ["Website", "Referral", "Cold call", "Trade fair", "Social media", "Other"],
        },
        {"key": "contact_email", "label": _l("Contact e-mail"), "type": "email"},
        {"key": "contact_phone", "label": _l("Contact phone"), "type": "phone"},
    ],
    "task_types": [{"key": "demo", "label": _l("Demo")}],
}


@hookimpl
def cardcrm_product_templates() -> list[dict[str, Any]]:
    return [TEMPLATE]


@hookimpl
def cardcrm_translation_directories() -> list[Any]:
    return [TRANSLATIONS]
