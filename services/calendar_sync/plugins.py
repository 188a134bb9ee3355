"""The calendar sync service's plugin manager: the same plugins as core, with this service's hooks.

Plugins are found as core finds them (the ``cardcrm`` entry-point group, ``CARDCRM_PLUGINS``,
``CARDCRM_PLUGINS_DIR``). One plugin module may implement hooks of several services, so the
manager knows the hook specifications of every installed service, not only its own.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import marshal
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from cardcrm.core.plugins import PluginLoadError, _import, _load_dir, parse_module_list

from . import hookspecs

log = logging.getLogger(__name__)

#: Hook specification modules of the services, added when the service is installed.
SPEC_MODULES = (
    "cardcrm.core.hookspecs",
    "cardcrm.calendar_sync.hookspecs",
    "cardcrm.notifications.hookspecs",
)


def get_plugin_manager(
    modules: Iterable[str | ModuleType | object] | str = (),
    plugins_dir: str | Path | None = None,
    entry_points: bool = True,
) -> pluggy.PluginManager:
    """Return a plugin manager with every service's hook specs and every plugin found."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    for name in SPEC_MODULES:
        try:
            manager.add_hookspecs(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if not error.name or not name.startswith(error.name):
                raise  # the service is there but its hook module fails: say so
    if isinstance(modules, str):
        modules = parse_module_list(modules)
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
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginLoadError(str(error)) from error
    return manager


def plugin_signature(manager: pluggy.PluginManager) -> str:
    """What the calendar hooks' implementations are: part of the key of rendered components.

    The code of each implementation is part of it, so that changing a plugin and restarting
    renders the components again even when the plugin's version stayed the same.
    """
    names = []
    for impl in manager.hook.cardcrm_calendar_component.get_hookimpls():
        code = getattr(impl.function, "__code__", None)
        digest = hashlib.sha256(marshal.dumps(code)).hexdigest()[:16] if code else ""
        names.append(f"{impl.plugin_name}:{digest}")
    return ",".join(sorted(names))


def call_each(caller: Any, **arguments: Any) -> None:
    """Call every implementation of a hook, each on its own: one failing skips only itself."""
    for impl in reversed(caller.get_hookimpls()):  # pluggy's order: last registered first
        try:
            impl.function(**{name: arguments[name] for name in impl.argnames})
        except Exception:
            log.exception("%s of plugin %r failed", caller.name, impl.plugin_name)
