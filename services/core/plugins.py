"""The core service's plugin manager: hook specs, built-in plugins and discovery in one place.

Plugins are found, in this order, through the ``cardcrm`` entry-point group (installed
packages, the built-in templates included), the ``CARDCRM_PLUGINS`` modules and the ``.py``
files or packages in ``CARDCRM_PLUGINS_DIR``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs

log = logging.getLogger(__name__)


SIDECAR_HOOKSPECS = ("cardcrm.calendar_sync.hookspecs", "cardcrm.notifications.hookspecs")


class PluginLoadError(RuntimeError):
    """A configured plugin could not be imported."""


def get_plugin_manager(
    modules: Iterable[str | ModuleType | object] = (),
    plugins_dir: str | Path | None = None,
    entry_points: bool = True,
) -> pluggy.PluginManager:
    """Return a plugin manager with the core hook specs and every plugin found."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    # One plugin may serve several services; each service's manager knows every service's
    # hooks so that a hook meant for another service is not taken for a misspelling.
    for name in SIDECAR_HOOKSPECS:
        try:
            manager.add_hookspecs(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if not error.name or not name.startswith(error.name):
                raise
    if entry_points:
        manager.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
    for module in modules:
        plugin = _import(module) if isinstance(module, str) else module
        if not manager.is_registered(plugin):
            manager.register(plugin)
    if plugins_dir:
        for plugin in _load_dir(Path(plugins_dir)):
            manager.register(plugin)
    try:
        # A function decorated as a hook whose name is no hook here is a mistake: say so.
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginLoadError(str(error)) from error
    check_templates(manager)
    return manager


def check_templates(manager: pluggy.PluginManager) -> None:
    """Refuse templates that break the template format, and a key offered twice."""
    from marshmallow import ValidationError

    from .products.schemas import TemplateInputSchema

    offered: dict[str, str] = {}
    for impl in manager.hook.cardcrm_product_templates.get_hookimpls():
        try:
            templates = impl.function() or []
        except Exception as error:
            raise PluginLoadError(
                f"plugin {impl.plugin_name!r} failed to list templates: {error}"
            ) from error
        for template in templates:
            key = template.get("key") if isinstance(template, dict) else None
            try:
                TemplateInputSchema().load(template)
            except ValidationError as error:
                raise PluginLoadError(
                    f"plugin {impl.plugin_name!r} offers a bad template {key!r}: {error.messages}"
                ) from error
            if key in offered:
                raise PluginLoadError(
                    f"template {key!r} is offered by both {offered[key]!r} and {impl.plugin_name!r}"
                )
            offered[key] = impl.plugin_name


def parse_module_list(value: str | None) -> list[str]:
    """Split ``CARDCRM_PLUGINS`` (comma-separated module names)."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def describe_plugins(manager: pluggy.PluginManager) -> list[dict[str, Any]]:
    """The registered plugins with their distribution version and the hooks they implement."""
    versions = {id(plugin): dist.version for plugin, dist in manager.list_plugin_distinfo()}
    items = []
    for name, plugin in sorted(manager.list_name_plugin(), key=lambda pair: pair[0]):
        hooks = sorted(
            caller.name for caller in manager.get_hookcallers(plugin) or () if caller.name
        )
        item: dict[str, Any] = {"name": name, "hooks": hooks}
        if id(plugin) in versions:
            item["version"] = versions[id(plugin)]
        items.append(item)
    return items


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise PluginLoadError(f"cannot import plugin module {name!r}: {error}") from error
    except Exception as error:
        raise PluginLoadError(f"plugin module {name!r} failed on import: {error}") from error


def _load_dir(folder: Path) -> list[ModuleType]:
    if not folder.is_dir():
        raise PluginLoadError(f"CARDCRM_PLUGINS_DIR {str(folder)!r} is not a folder")
    modules = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.suffix == ".py":
            location = path
        elif (path / "__init__.py").is_file():
            location = path / "__init__.py"
        else:
            continue
        name = f"cardcrm_dir_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, location)
        if spec is None or spec.loader is None:
            raise PluginLoadError(f"cannot load plugin file {str(location)!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[name]
            raise PluginLoadError(f"plugin file {str(location)!r} failed: {error}") from error
        modules.append(module)
    return modules
