"""Settings of the calendar sync service, read from the environment (see API.md, Command line)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cardcrm.common.config import data_dir, public_urls, secret_key, sqlite_url
from cardcrm.common.i18n import default_language
from cardcrm.common.outbound import OutboundPolicy

DEFAULT_CORE_URL = "http://127.0.0.1:8000"
#: How often the worker asks each CalDAV server for changes made in calendar apps.
DEFAULT_PULL_SECONDS = 60.0
#: How often the worker checks each CalDAV calendar for to-dos of tasks core does not have.
DEFAULT_RECONCILE_SECONDS = 6 * 3600.0


def from_env(env: Mapping[str, str] = os.environ, data: str | None = None) -> dict[str, Any]:
    """The settings for the environment ``env`` (``data`` overrides ``CARDCRM_DATA_DIR``).

    ``PUBLIC_URL`` is the absolute base URL of this service, used in feed URLs:
    ``CARDCRM_CALENDAR_PUBLIC_URL``, else ``CARDCRM_PUBLIC_URL`` + ``/calendar`` (where
    ``cardcrm up`` mounts it), else empty (then the URL of the request is used).
    """
    folder = data_dir(env, data)
    return {
        "DATA_DIR": str(folder),
        "DATABASE_URL": env.get("CARDCRM_CALENDAR_DATABASE_URL")
        or sqlite_url(folder, "calendar.db"),
        "CORE_URL": env.get("CARDCRM_CORE_URL") or DEFAULT_CORE_URL,
        # CORE_PUBLIC_URL: where people open cards (links in calendar entries); falls back
        # to CORE_URL.
        **public_urls(env, "/calendar", "CARDCRM_CALENDAR_PUBLIC_URL"),
        "SERVICE_TOKEN": env.get("CARDCRM_SERVICE_TOKEN", ""),
        # Feeds of people who chose no language in their profile speak this one.
        "DEFAULT_LANGUAGE": default_language(env),
        "SECRET_KEY": secret_key(folder, env),
        "PLUGINS": env.get("CARDCRM_PLUGINS", ""),
        "PLUGINS_DIR": env.get("CARDCRM_PLUGINS_DIR") or None,
        "PULL_SECONDS": float(env.get("CARDCRM_CALENDAR_PULL_SECONDS") or DEFAULT_PULL_SECONDS),
        "RECONCILE_SECONDS": float(
            env.get("CARDCRM_CALENDAR_RECONCILE_SECONDS") or DEFAULT_RECONCILE_SECONDS
        ),
        # The CalDAV servers users name may be private only where CARDCRM_OUTBOUND_ALLOW says.
        "OUTBOUND_ALLOW": OutboundPolicy.from_env(env),
    }
