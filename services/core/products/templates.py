"""The template catalogue: the product templates the installed plugins offer."""

from __future__ import annotations

from typing import Any

from cardcrm.common.errors import Invalid
from cardcrm.common.translate import gettext as _
from flask import current_app
from flask_babel import LazyString


def list_templates(plugins: Any | None = None) -> list[dict[str, Any]]:
    """Every template the plugins offer, each tagged with the plugin that offers it, its words
    in the current request's language (a product made from it keeps them in that language)."""
    manager = plugins or current_app.extensions["cardcrm_plugins"]
    templates: dict[str, dict[str, Any]] = {}
    for impl in manager.hook.cardcrm_product_templates.get_hookimpls():
        for template in impl.function() or []:
            templates.setdefault(
                template["key"], {**in_words(template), "plugin": impl.plugin_name}
            )
    return sorted(templates.values(), key=lambda template: template["key"])


def find_template(key: str) -> dict[str, Any]:
    for template in list_templates():
        if template["key"] == key:
            return template
    raise Invalid(
        {"template": [_("No template %(key)s; GET /api/v1/templates lists them.", key=repr(key))]}
    )


def in_words(value: Any) -> Any:
    """``value`` with every ``lazy_gettext`` string in it made a ``str`` of the current
    language (plugins mark their templates' words lazily: they are read at import time)."""
    if isinstance(value, LazyString):
        return str(value)
    if isinstance(value, dict):
        return {key: in_words(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [in_words(item) for item in value]
    return value
