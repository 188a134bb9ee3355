"""The invoices process template, and the rule that an invoice is sent with an amount before
it can be paid."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from cardcrm.common.plugins import hookimpl
from cardcrm.common.translate import N_
from cardcrm.common.translate import gettext as _
from flask_babel import lazy_gettext as _l

from . import TRANSLATIONS

TEMPLATE: dict[str, Any] = {
    "key": "invoices",
    "name": _l("Invoices"),
    "description": _l("Invoices from issuing through reminders to paid or cancelled."),
    "statuses": [
        {"name": _l("To issue"), "group": "inactive"},
        {"name": _l("Sent"), "group": "in_progress"},
        {"name": _l("Payment reminder sent"), "group": "in_progress"},
        {"name": _l("Paid"), "group": "positive"},
        {"name": _l("Cancelled"), "group": "negative"},
    ],
    "fields": [
        {"key": "number", "label": _l("Invoice number"), "type": "text"},
        {"key": "amount", "label": _l("Amount"), "type": "money", "currency": "EUR"},
        {"key": "issue_date", "label": _l("Issue date"), "type": "date"},
        {"key": "due_date", "label": _l("Due date"), "type": "date"},
        {"key": "client_email", "label": _l("Client e-mail"), "type": "email"},
    ],
    "task_types": [{"key": "payment_reminder", "label": _l("Payment reminder")}],
}

NEEDS_AMOUNT = N_("An invoice needs an amount before it is sent.")
NEEDS_SENDING = N_("An invoice must be sent before it is paid.")


@hookimpl
def cardcrm_product_templates() -> list[dict[str, Any]]:
    return [TEMPLATE]


@hookimpl
def cardcrm_translation_directories() -> list[Any]:
    return [TRANSLATIONS]


@hookimpl
def cardcrm_validate_status_change(card, old_status, new_status) -> list[str] | str | None:
    product = getattr(card, "product", None)
    if getattr(product, "template", None) != TEMPLATE["key"]:
        return None
    reasons = []
    if new_status.group in ("in_progress", "positive") and not _has_amount(card):
        reasons.append(_(NEEDS_AMOUNT))
    if new_status.group == "positive" and old_status is not None and old_status.group == "inactive":
        reasons.append(_(NEEDS_SENDING))
    if not reasons:
        return None
    return reasons[0] if len(reasons) == 1 else reasons


def _has_amount(card) -> bool:
    amount = (getattr(card, "fields", None) or {}).get("amount")
    # A money value may arrive as a number, a decimal string or an {"amount": ...} mapping.
    if isinstance(amount, dict):
        amount = amount.get("amount")
    if amount is None or isinstance(amount, bool) or amount == "":
        return False
    try:
        return Decimal(str(amount)) > 0
    except InvalidOperation:
        return False
