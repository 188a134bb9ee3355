"""The notifications service's plugin manager: its hook specs, built-in channels, discovery.

Plugins are found like core's (``cardcrm.core.plugins``): the ``cardcrm`` entry-point group,
then ``CARDCRM_PLUGINS`` modules, then ``CARDCRM_PLUGINS_DIR``. A plugin may implement hooks of
several services in one module: this manager only checks the ``cardcrm_notification_*``
hooks, since the others belong to core's or calendar sync's manager.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from cardcrm.core.plugins import PluginLoadError, parse_module_list

from . import hookspecs
from .channels.base import Channel

#: The built-in channels, registered as default plugins through the same hook.
DEFAULT_PLUGINS = (
    "cardcrm.notifications.channels.inapp",
    "cardcrm.notifications.channels.email",
    "cardcrm.notifications.channels.webhook",
)
HOOK_PREFIX = "cardcrm_notification"


def get_plugin_manager(
    modules: Iterable[str | ModuleType | object] | str = (),
    plugins_dir: str | Path | None = None,
    entry_points: bool = True,
) -> pluggy.PluginManager:
    """A plugin manager with this service's hook specs, the built-ins and every plugin found."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(name), name=name.rpartition(".")[2])
    if entry_points:
        manager.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
    if isinstance(modules, str):
        modules = parse_module_list(modules)
    for module in modules:
        plugin = _import(module) if isinstance(module, str) else module
        if not manager.is_registered(plugin):
            manager.register(plugin)
    if plugins_dir:
        for plugin in _load_dir(Path(plugins_dir)):
            if not manager.is_registered(plugin):
                manager.register(plugin)
    _check_hook_names(manager)
    return manager


def load_channels(manager: pluggy.PluginManager, settings: dict[str, Any]) -> dict[str, Channel]:
    """The channels every plugin offers, by name, built-ins first."""
    channels: dict[str, Channel] = {}
    offered_by: dict[str, str] = {}
    # In registration order (pluggy *calls* the last registered first): built-ins first.
    for impl in manager.hook.cardcrm_notification_channels.get_hookimpls():
        arguments = {"settings": settings}
        try:
            offered = impl.function(**{name: arguments[name] for name in impl.argnames}) or []
        except Exception as error:
            raise PluginLoadError(
                f"plugin {impl.plugin_name!r} failed to list notification channels: {error}"
            ) from error
        for channel in offered:
            if not isinstance(channel, Channel) or not channel.name:
                raise PluginLoadError(
                    f"plugin {impl.plugin_name!r} offers {channel!r}, not a named Channel"
                )
            if channel.name in channels:
                raise PluginLoadError(
                    f"channel {channel.name!r} is offered by both "
                    f"{offered_by[channel.name]!r} and {impl.plugin_name!r}"
                )
            channels[channel.name] = channel
            offered_by[channel.name] = impl.plugin_name
    return channels


def _check_hook_names(manager: pluggy.PluginManager) -> None:
    """A ``cardcrm_notification_*`` implementation that matches no hook is a misspelling."""
    for name in dir(manager.hook):
        if not name.startswith(HOOK_PREFIX):
            continue
        caller = getattr(manager.hook, name)
        if caller.spec is None and caller.get_hookimpls():
            plugins = ", ".join(impl.plugin_name for impl in caller.get_hookimpls())
            raise PluginLoadError(f"unknown hook {name!r} implemented by {plugins}")


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise PluginLoadError(f"cannot import plugin module {name!r}: {error}") from error
    except Exception as error:
        raise PluginLoadError(f"plugin module {name!r} failed on import: {error}") from error


def _load_dir(folder: Path) -> list[ModuleType]:
    """The plugins of ``CARDCRM_PLUGINS_DIR``, under the module names core gives them."""
    if not folder.is_dir():
        raise PluginLoadError(f"CARDCRM_PLUGINS_DIR {str(folder)!r} is not a folder")
    modules = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        location = path if path.suffix == ".py" else path / "__init__.py"
        if not location.is_file():
            continue
        name = f"cardcrm_dir_plugin_{path.stem}"
        loaded = sys.modules.get(name)
        if loaded is not None and getattr(loaded, "__file__", None) == str(location):
            modules.append(loaded)  # core loaded it already in this process (`cardcrm up`)
            continue
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
