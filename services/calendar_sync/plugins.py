"""The calendar sync service's plugin manager: its hook specs, found as every service finds
plugins (``cardcrm.common.plugins``), and what rendered components depend on."""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pluggy
from cardcrm.common.plugins import get_plugin_manager as make_plugin_manager

from . import hookspecs


def get_plugin_manager(
    modules: Iterable[str | ModuleType | object] | str = (),
    plugins_dir: str | Path | None = None,
    entry_points: bool = True,
) -> pluggy.PluginManager:
    """Return a plugin manager with this service's hook specs and every plugin found."""
    return make_plugin_manager(
        "calendar", hookspecs, modules=modules, plugins_dir=plugins_dir, entry_points=entry_points
    )


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
