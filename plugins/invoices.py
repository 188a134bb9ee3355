"""The invoices process template, and the rule that an invoice is sent with an amount before
it can be paid."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from cardcrm.common.plugins import hookimpl

TEMPLATE: dict[str, Any] = {
    "key": "invoices",
    "name": "Invoices",
    "description": "Invoices from issuing through reminders to paid or cancelled.",
    "statuses": [
        {"name": "To issue", "group": "inactive"},
        {"name": "Sent", "group": "in_progress"},
        {"name": "Payment reminder sent", "group": "in_progress"},
        {"name": "Paid", "group": "positive"},
        {"name": "Cancelled", "group": "negative"},
    ],
    "fields": [
        {"key": "number", "label": "Invoice number", "type": "text"},
        {"key": "amount", "label": "Amount", "type": "money", "currency": "EUR"},
        {"key": "issue_date", "label": "Issue date", "type": "date"},
        {"key": "due_date", "label": "Due date", "type": "date"},
        {"key": "client_email", "label": "Client e-mail", "type": "email"},
    ],
    "task_types": [{"key": "payment_reminder", "label": "Payment reminder"}],
}

NEEDS_AMOUNT = "An invoice needs an amount before it is sent."
NEEDS_SENDING = "An invoice must be sent before it is paid."


@hookimpl
def cardcrm_product_templates() -> list[dict[str, Any]]:
    return [TEMPLATE]


@hookimpl
def cardcrm_validate_status_change(card, old_status, new_status) -> list[str] | str | None:
    product = getattr(card, "product", None)
    if getattr(product, "template", None) != TEMPLATE["key"]:
        return None
    reasons = []
    if new_status.group in ("in_progress", "positive") and not _has_amount(card):
        reasons.append(NEEDS_AMOUNT)
    if new_status.group == "positive" and old_status is not None and old_status.group == "inactive":
        reasons.append(NEEDS_SENDING)
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
