"""The notifications service's context: what the app and the worker of one process share,
built once from the settings (the database, the channels from the plugins, the secret box for
webhook secrets, links into core's UI). Calendar sync's counterpart is ``CalendarContext``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy
from cardcrm.common.db import Database
from cardcrm.common.errors import ConfigurationError
from cardcrm.common.outbound import SETTING as OUTBOUND_SETTING
from cardcrm.common.outbound import OutboundPolicy
from cardcrm.common.timeutil import Clock, utcnow
from cardcrm.sidecar.core_client import CoreClient
from cardcrm.sidecar.speech import Speaker

from .channels.base import Channel
from .links import DEFAULT_CORE_URL, Links
from .plugins import get_plugin_manager, load_channels
from .secretbox import SecretBox

#: The notifications service's catalogues: the words of its e-mails and inbox items.
TRANSLATIONS = Path(__file__).parent / "translations"


@dataclass
class NotificationsContext:
    settings: dict[str, Any]
    db: Database
    plugins: pluggy.PluginManager
    channels: dict[str, Channel]
    box: SecretBox
    links: Links
    #: The guard of connections to the addresses users give (``CARDCRM_OUTBOUND_ALLOW``);
    #: channels that connect on a user's behalf take it from the settings, parsed once here.
    outbound: OutboundPolicy
    #: Says each message in its recipient's language (``cardcrm.sidecar.speech``).
    speaker: Speaker
    #: ``settings["CLOCK"]`` (tests move time) or the real one
    clock: Clock = utcnow

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> NotificationsContext:
        settings = dict(settings)
        for key in ("DATABASE_URL", "SECRET_KEY"):
            if not settings.get(key):
                raise ConfigurationError(f"The notifications service needs {key}.")
        outbound = settings[OUTBOUND_SETTING] = OutboundPolicy.of(settings)
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
            outbound=outbound,
            speaker=Speaker([TRANSLATIONS], settings.get("DEFAULT_LANGUAGE")),
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
