"""The notifications service's plugin manager: its hook specs and built-in channels, found as
every service finds plugins (``cardcrm.common.plugins``), and the channels they offer."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from cardcrm.common.plugins import PluginLoadError
from cardcrm.common.plugins import get_plugin_manager as make_plugin_manager

from . import hookspecs
from .channels.base import Channel

#: The built-in channels, registered as default plugins through the same hook.
DEFAULT_PLUGINS = (
    "cardcrm.notifications.channels.inapp",
    "cardcrm.notifications.channels.email",
    "cardcrm.notifications.channels.webhook",
)


def get_plugin_manager(
    modules: Iterable[str | ModuleType | object] | str = (),
    plugins_dir: str | Path | None = None,
    entry_points: bool = True,
) -> pluggy.PluginManager:
    """A plugin manager with this service's hook specs, the built-ins and every plugin found."""
    return make_plugin_manager(
        "notifications",
        hookspecs,
        default_plugins=DEFAULT_PLUGINS,
        modules=modules,
        plugins_dir=plugins_dir,
        entry_points=entry_points,
    )


def load_channels(manager: pluggy.PluginManager, settings: dict[str, Any]) -> dict[str, Channel]:
    """The channels every plugin offers, by name, built-ins first."""
    channels: dict[str, Channel] = {}
    offered_by: dict[str, str] = {}
    # In registration order (pluggy *calls* the last registered first): built-ins first.
    for impl in manager.hook.cardcrm_notification_channels.get_hookimpls():
        arguments = {"settings": settings}
        try:
            offered = impl.function(**{name: arguments[name] for name in impl.argnames})
        except Exception as error:
            raise PluginLoadError(
                f"plugin {impl.plugin_name!r} failed to list notification channels: {error}"
            ) from error
        if offered is None:
            continue
        if not isinstance(offered, Iterable):
            raise PluginLoadError(
                f"plugin {impl.plugin_name!r} returns {offered!r}, not a list of channels"
            )
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
