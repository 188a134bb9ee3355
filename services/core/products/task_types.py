"""The task types a product offers: the built-in ones, the product's own, and the plugins'."""

from __future__ import annotations

from flask import current_app

from .models import Product

BUILTIN_TASK_TYPES = (
    {"key": "call", "label": "Call"},
    {"key": "email", "label": "E-mail"},
    {"key": "meeting", "label": "Meeting"},
    {"key": "todo", "label": "To-do"},
)


def product_task_types(product: Product) -> list[dict[str, str]]:
    """Built-in types, then the product's own, then those plugins add everywhere."""
    manager = current_app.extensions["cardcrm_plugins"]
    extra = [item for result in manager.hook.cardcrm_task_types() for item in (result or [])]
    seen: dict[str, dict[str, str]] = {}
    for item in (*BUILTIN_TASK_TYPES, *(product.task_types or []), *extra):
        seen.setdefault(item["key"], {"key": item["key"], "label": item["label"]})
    return list(seen.values())
