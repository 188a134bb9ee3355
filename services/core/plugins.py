"""The core service's plugin manager: core's hook specs and the template check.

Discovery is the shared one (``cardcrm.common.plugins``): the ``cardcrm`` entry-point group
(installed packages, the built-in templates included), ``CARDCRM_PLUGINS`` and
``CARDCRM_PLUGINS_DIR``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from cardcrm.common.plugins import PluginLoadError
from cardcrm.common.plugins import get_plugin_manager as make_plugin_manager
from marshmallow import ValidationError

from . import hookspecs
from .products.schemas import TemplateInputSchema
from .products.templates import in_words


def get_plugin_manager(
    modules: Iterable[str | ModuleType | object] | str = (),
    plugins_dir: str | Path | None = None,
    entry_points: bool = True,
) -> pluggy.PluginManager:
    """Return a plugin manager with the core hook specs and every plugin found."""
    manager = make_plugin_manager(
        "core", hookspecs, modules=modules, plugins_dir=plugins_dir, entry_points=entry_points
    )
    check_templates(manager)
    return manager


def check_templates(manager: pluggy.PluginManager) -> None:
    """Refuse templates that break the template format, and a key offered twice."""
    offered: dict[str, str] = {}
    for impl in manager.hook.cardcrm_product_templates.get_hookimpls():
        try:
            templates: Any = impl.function() or []  # checked item by item below
        except Exception as error:
            raise PluginLoadError(
                f"plugin {impl.plugin_name!r} failed to list templates: {error}"
            ) from error
        for template in templates:
            key = template.get("key") if isinstance(template, dict) else None
            try:
                key = TemplateInputSchema().load(in_words(template))["key"]
            except ValidationError as error:
                raise PluginLoadError(
                    f"plugin {impl.plugin_name!r} offers a bad template {key!r}: {error.messages}"
                ) from error
            if key in offered:
                raise PluginLoadError(
                    f"template {key!r} is offered by both {offered[key]!r} and {impl.plugin_name!r}"
                )
            offered[key] = impl.plugin_name
