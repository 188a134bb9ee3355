"""What the app and the worker share, built once from the settings: the database, the
channels from the plugins, the secret box for webhook secrets, and links into core's UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pluggy
from cardcrm.common.db import Database
from cardcrm.common.errors import ConfigurationError
from cardcrm.common.timeutil import Clock, utcnow
from cardcrm.sidecar.core_client import CoreClient

from .channels.base import Channel
from .plugins import get_plugin_manager, load_channels
from .secretbox import SecretBox

DEFAULT_CORE_URL = "http://127.0.0.1:8000"
#: The prefix ``cardcrm up`` mounts this service under (its PUBLIC_URL ends with it).
MOUNT_PREFIX = "/notifications"


@dataclass(frozen=True)
class Links:
    """Addresses in core's web UI that messages link to."""

    base: str

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Links:
        # PUBLIC_URL is core's public URL (CARDCRM_PUBLIC_URL). `cardcrm up` gives this
        # service its own mounted URL instead; the UI is then just above it.
        base = settings.get("CORE_PUBLIC_URL") or (settings.get("PUBLIC_URL") or "").rstrip("/")
        base = base.removesuffix(MOUNT_PREFIX) or settings.get("CORE_URL") or DEFAULT_CORE_URL
        return cls(base.rstrip("/"))

    def card(self, card_id: int) -> str:
        return f"{self.base}/cards/{card_id}"

    def today(self) -> str:
        return f"{self.base}/"


@dataclass
class Runtime:
    settings: dict[str, Any]
    db: Database
    plugins: pluggy.PluginManager
    channels: dict[str, Channel]
    box: SecretBox
    links: Links
    #: ``settings["CLOCK"]`` (tests move time) or the real one
    clock: Clock = utcnow

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Runtime:
        settings = dict(settings)
        for key in ("DATABASE_URL", "SECRET_KEY"):
            if not settings.get(key):
                raise ConfigurationError(f"The notifications service needs {key}.")
        plugins = get_plugin_manager(
            settings.get("PLUGINS") or (),
            plugins_dir=settings.get("PLUGINS_DIR"),
            entry_points=settings.get("PLUGIN_ENTRY_POINTS", True),
        )
        return cls(
            settings=settings,
            db=Database(settings["DATABASE_URL"]),
            plugins=plugins,
            channels=load_channels(plugins, settings),
            box=SecretBox(settings["SECRET_KEY"]),
            links=Links.from_settings(settings),
            clock=settings.get("CLOCK") or utcnow,
        )

    def client(self) -> CoreClient:
        """A new client of core (one per thread: a ``requests`` session is not shared)."""
        return CoreClient(
            self.settings.get("CORE_URL") or DEFAULT_CORE_URL, self.settings.get("SERVICE_TOKEN")
        )

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.db.dispose()
