"""The task types a product offers: the built-in ones, the product's own, and the plugins'."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from .models import Product

#: Their labels are said in the reader's language (the product's own were stored in the
#: language of whoever made it from a template).
BUILTIN_TASK_TYPES = (
    {"key": "call", "label": _l("Call")},
    {"key": "email", "label": _l("E-mail")},
    {"key": "meeting", "label": _l("Meeting")},
    {"key": "todo", "label": _l("To-do")},
)


def product_task_types(product: Product) -> list[dict[str, str]]:
    """Built-in types, then the product's own, then those plugins add everywhere."""
    manager = current_app.extensions["cardcrm_plugins"]
    extra = [item for result in manager.hook.cardcrm_task_types() for item in (result or [])]
    seen: dict[str, dict[str, str]] = {}
    for item in (*BUILTIN_TASK_TYPES, *(product.task_types or []), *extra):
        seen.setdefault(item["key"], {"key": item["key"], "label": str(item["label"])})
    return list(seen.values())
