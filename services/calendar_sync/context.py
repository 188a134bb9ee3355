"""The parts the app and the worker share, built once from the settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pluggy
from cardcrm.common.db import Database
from cardcrm.common.outbound import OutboundPolicy
from cardcrm.common.timeutil import utcnow
from cardcrm.sidecar.core_client import CoreClient, CoreError, CoreUnavailable
from cardcrm.sidecar.follower import EventFollower
from cardcrm.sidecar.speech import Speaker
from sqlalchemy.orm import Session

from . import mirror
from .crypto import FEED_TOKENS_INFO, PasswordBox
from .ical import Renderer
from .models import EventCursor
from .plugins import get_plugin_manager

log = logging.getLogger(__name__)

FOLLOWER_NAME = mirror.FOLLOWER_NAME
#: The calendar sync service's catalogues: calendar names and the words of its entries.
TRANSLATIONS = Path(__file__).parent / "translations"
#: Events applied per transaction of the mirror: a backlog is worked through in big steps.
EVENTS_PER_TRANSACTION = 200


@dataclass
class CalendarContext:
    settings: dict[str, Any]
    database: Database
    core: CoreClient
    plugins: pluggy.PluginManager
    renderer: Renderer
    passwords: PasswordBox
    #: seals feed tokens so their addresses can be shown again (``feeds.feed_token``)
    feed_tokens: PasswordBox
    #: The guard of connections to the CalDAV servers users name (``CARDCRM_OUTBOUND_ALLOW``).
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    clock: Callable[[], datetime] = field(default=utcnow)
    #: Set once the mirror was seen past a replay of core's events (``mirror.catching_up``).
    caught_up: bool = field(default=False, init=False)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> CalendarContext:
        plugins = get_plugin_manager(
            settings.get("PLUGINS") or (),
            plugins_dir=settings.get("PLUGINS_DIR"),
            entry_points=settings.get("PLUGIN_ENTRY_POINTS", True),
        )
        database = Database(settings["DATABASE_URL"])
        for factory in (database.sessions, database.writer.maker):
            mirror.install(factory)
        core_url = settings.get("CORE_URL") or "http://127.0.0.1:8000"
        card_base = settings.get("CORE_PUBLIC_URL") or core_url
        speaker = Speaker([TRANSLATIONS], settings.get("DEFAULT_LANGUAGE"))
        return cls(
            settings=settings,
            database=database,
            core=CoreClient(core_url, settings.get("SERVICE_TOKEN") or None),
            plugins=plugins,
            renderer=Renderer(plugins, card_base, uid_domain(settings), speaker),
            passwords=PasswordBox(settings.get("SECRET_KEY") or ""),
            feed_tokens=PasswordBox(settings.get("SECRET_KEY") or "", FEED_TOKENS_INFO),
            outbound=OutboundPolicy.of(settings),
            clock=settings.get("CLOCK") or utcnow,
        )

    def follower(self, **options: Any) -> EventFollower:
        """The follower of core's events that keeps the mirror (see ``mirror.py``)."""
        options.setdefault("events_per_transaction", EVENTS_PER_TRANSACTION)
        # Its own HTTP client: the long-poll must not share a session with other threads.
        client = CoreClient(self.core.base_url, self.core.service_token, self.core.timeout)
        return EventFollower(
            FOLLOWER_NAME,
            client,
            self.database.writer,
            EventCursor,
            mirror.apply_event,
            on_rewind=self._rebuild_mirror,
            **options,
        )

    def is_admin(self, user_id: int) -> bool:
        """Whether core says the user is an admin (its answer is cached a few minutes).

        ``CoreUnavailable`` propagates: what depends on it waits for core rather than show a
        calendar built on a guess. A user core does not know, or will not say, is no admin.
        """
        try:
            user = self.core.user(user_id)
        except CoreUnavailable:
            raise
        except CoreError as error:
            log.warning("core did not say whether user %s is an admin: %s", user_id, error)
            return False
        return bool(user and user.get("is_admin"))

    def language_of(self, user_id: int) -> str:
        """The user's language for their calendars: their profile's (core's answer is cached
        a few minutes), else ``CARDCRM_DEFAULT_LANGUAGE``, also when core cannot say."""
        try:
            user = self.core.user(user_id)
        except CoreError as error:  # CoreUnavailable too: a name is no reason to fail
            log.info("core did not say the language of user %s: %s", user_id, error)
            user = None
        speaker = self.renderer.speaker
        assert speaker is not None  # from_settings gives the renderer one
        return speaker.language_of(user)

    def _rebuild_mirror(self, session: Session, newest_id: int) -> None:
        """The follower rewound (core restored behind it): rebuild the mirror, and ask the
        database again whether it is caught up (``mirror.rebuild``)."""
        mirror.rebuild(session, newest_id)
        self.caught_up = False

    def catching_up(self, session: Session) -> bool:
        """``mirror.catching_up``, asked of the database only until it says no."""
        if not self.caught_up:
            self.caught_up = not mirror.catching_up(session)
        return not self.caught_up

    def close(self) -> None:
        self.core.close()
        self.database.dispose()


def uid_domain(settings: dict[str, Any]) -> str:
    """The right-hand side of the UIDs: this deployment's host, stable across restarts."""
    if settings.get("UID_DOMAIN"):
        return settings["UID_DOMAIN"]
    for key in ("PUBLIC_URL", "CORE_PUBLIC_URL"):
        host = urlsplit(settings.get(key) or "").hostname
        if host:
            return host
    return "cardcrm"
