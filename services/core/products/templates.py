"""The template catalogue: the product templates the installed plugins offer."""

from __future__ import annotations

from typing import Any

from cardcrm.common.errors import Invalid
from cardcrm.common.translate import gettext as _
from flask import current_app


def list_templates(plugins: Any | None = None) -> list[dict[str, Any]]:
    """Every template the plugins offer, each tagged with the plugin that offers it."""
    manager = plugins or current_app.extensions["cardcrm_plugins"]
    templates: dict[str, dict[str, Any]] = {}
    for impl in manager.hook.cardcrm_product_templates.get_hookimpls():
        for template in impl.function() or []:
            templates.setdefault(template["key"], {**template, "plugin": impl.plugin_name})
    return sorted(templates.values(), key=lambda template: template["key"])


def find_template(key: str) -> dict[str, Any]:
    for template in list_templates():
        if template["key"] == key:
            return template
    raise Invalid(
        {"template": [_("No template %(key)s; GET /api/v1/templates lists them.", key=repr(key))]}
    )
