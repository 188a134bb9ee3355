"""Settings of the core service, read from the environment (see API.md, Command line)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cardcrm.common.config import data_dir, public_urls, secret_key, sqlite_url


def from_env(env: Mapping[str, str] = os.environ, data: str | None = None) -> dict[str, Any]:
    """The app config for the environment ``env`` (``data`` overrides ``CARDCRM_DATA_DIR``)."""
    folder = data_dir(env, data)
    return {
        "DATA_DIR": str(folder),
        "DATABASE_URL": env.get("CARDCRM_DATABASE_URL") or sqlite_url(folder, "core.db"),
        "SECRET_KEY": secret_key(folder, env),
        **public_urls(env, mount=""),
        "PLUGINS": env.get("CARDCRM_PLUGINS", ""),
        "PLUGINS_DIR": env.get("CARDCRM_PLUGINS_DIR") or None,
        # Sidecars reachable beside core under /calendar and /notifications (the web UI shows
        # their panels); `cardcrm up` sets it itself.
        "SIDECARS": [name for name in env.get("CARDCRM_SIDECARS", "").split(",") if name.strip()],
    }
