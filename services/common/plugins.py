"""One plugin manager factory for every service: hook specs, default plugins and discovery.

Plugins are found, in this order, through the ``cardcrm`` entry-point group (installed
packages, the built-in templates included), the ``CARDCRM_PLUGINS`` modules and the ``.py``
files or packages in ``CARDCRM_PLUGINS_DIR``. One plugin module may implement hooks of several
services; each service's manager knows only its own hook specifications and checks only its
own hook names (``HOOK_PREFIXES``): an implementation in its namespace that matches no hook is
a misspelling and refused, one in another service's namespace is left to that service.

Code in ``CARDCRM_PLUGINS_DIR`` runs inside the services, so the folder is refused, as ssh
refuses a loose ``authorized_keys``, when anyone but the services' user or root could change
what gets loaded (``check_plugins_dir``).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import pwd
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

log = logging.getLogger(__name__)

PROJECT_NAME = "cardcrm"
#: Each service's hook names start with its prefix; core's are the ``cardcrm_`` ones that are
#: no other service's.
HOOK_PREFIXES = {
    "core": "cardcrm_",
    "calendar": "cardcrm_calendar_",
    "notifications": "cardcrm_notification_",
}


#: Marks a plugin's hook implementations, whichever service's hooks they are (the same marker
#: as each service's ``hookspecs.hookimpl``; importing it from here loads no service).
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class PluginLoadError(RuntimeError):
    """A configured plugin could not be imported or breaks a service's rules."""


def get_plugin_manager(
    service: str,
    hookspecs: ModuleType,
    *,
    default_plugins: Iterable[str] = (),
    modules: Iterable[str | ModuleType | object] | str = (),
    plugins_dir: str | Path | None = None,
    entry_points: bool = True,
) -> pluggy.PluginManager:
    """A manager with ``service``'s hook specs, its default plugins (module names, registered
    under their last name part) and every plugin found."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for name in default_plugins:
        manager.register(importlib.import_module(name), name=name.rpartition(".")[2])
    if entry_points:
        manager.load_setuptools_entrypoints(PROJECT_NAME)
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
    check_hook_names(manager, service)
    return manager


def owner_of_hook(name: str) -> str | None:
    """The service whose namespace the hook ``name`` is in (the longest prefix wins)."""
    matches = [
        (len(prefix), svc) for svc, prefix in HOOK_PREFIXES.items() if name.startswith(prefix)
    ]
    return max(matches)[1] if matches else None


def check_hook_names(manager: pluggy.PluginManager, service: str) -> None:
    """Refuse an implementation in ``service``'s namespace that matches none of its hooks."""
    for name in dir(manager.hook):
        caller = getattr(manager.hook, name)
        if not isinstance(caller, pluggy.HookCaller) or caller.spec is not None:
            continue
        if caller.get_hookimpls() and owner_of_hook(name) == service:
            plugins = ", ".join(impl.plugin_name for impl in caller.get_hookimpls())
            raise PluginLoadError(f"unknown hook {name!r} implemented by {plugins}")


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


def call_each(caller: Any, **arguments: Any) -> None:
    """Call every implementation of a hook, each on its own: one failing skips only itself."""
    for impl in reversed(caller.get_hookimpls()):  # pluggy's order: last registered first
        try:
            impl.function(**{name: arguments[name] for name in impl.argnames})
        except Exception:
            log.exception("%s of plugin %r failed", caller.name, impl.plugin_name)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise PluginLoadError(f"cannot import plugin module {name!r}: {error}") from error
    except Exception as error:
        raise PluginLoadError(f"plugin module {name!r} failed on import: {error}") from error


def check_plugins_dir(folder: str | Path) -> None:
    """Refuse a plugins folder whose code someone other than this process's user could change.

    The folder, every plugin file, every file and folder of a plugin package and the
    ``__pycache__`` folders (Python runs the bytecode it finds there) must be owned by this
    process's user or by root, and writable by no group and no others. Other files (a README,
    ``_draft.py``) are never loaded and not checked. The error lists every loose path with the
    command that fixes it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PluginLoadError(f"CARDCRM_PLUGINS_DIR {str(folder)!r} is not a folder")
    problems = [problem for path in _code_paths(folder) if (problem := _loose(path))]
    if problems:
        raise PluginLoadError(
            f"CARDCRM_PLUGINS_DIR {str(folder)!r} is refused: its code runs inside cardcrm, so"
            " only the user cardcrm runs as (or root) may be able to change it.\n  "
            + "\n  ".join(problems)
        )


def _code_paths(folder: Path) -> Iterator[Path]:
    """The folder and what loading its plugins reads or runs."""
    yield folder
    for path in sorted(folder.iterdir()):
        if path.name == "__pycache__" or _plugin_location(path) is not None:
            yield path
            if path.is_dir():
                yield from sorted(path.rglob("*"))


def _loose(path: Path) -> str | None:
    """What is wrong with ``path`` (and the fix), or None when only its owner can change it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None  # a broken symbolic link: nothing there to load
    user = os.geteuid()
    if info.st_uid not in (user, 0):
        return (
            f"{path} belongs to user {_user_name(info.st_uid)}, not to {_user_name(user)}"
            f" (the user cardcrm runs as) or root; fix: chown {_user_name(user)} {path}"
        )
    writers = [
        who
        for who, bit in (("group", stat.S_IWGRP), ("others", stat.S_IWOTH))
        if info.st_mode & bit
    ]
    if writers:
        return (
            f"{path} is writable by {' and '.join(writers)}"
            f" (mode {stat.S_IMODE(info.st_mode):04o}); fix: chmod go-w {path}"
        )
    return None


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _plugin_location(path: Path) -> Path | None:
    """The file to load for ``path`` in the plugins folder (a module or a package), or None."""
    if path.name.startswith(("_", ".")):
        return None
    location = path if path.suffix == ".py" else path / "__init__.py"
    return location if location.is_file() else None


def _load_dir(folder: Path) -> list[ModuleType]:
    """The plugins of ``CARDCRM_PLUGINS_DIR``, once the folder is found safe; a file another
    service of this process loaded already (``cardcrm up``) is the same module, not a second
    copy."""
    check_plugins_dir(folder)
    modules = []
    for path in sorted(folder.iterdir()):
        location = _plugin_location(path)
        if location is None:
            continue
        name = f"cardcrm_dir_plugin_{path.stem}"
        loaded = sys.modules.get(name)
        if loaded is not None and getattr(loaded, "__file__", None) == str(location):
            modules.append(loaded)
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
