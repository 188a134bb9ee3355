"""Settings of the core service, read from the environment (see API.md, Command line)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_BODY_BYTES = 1024 * 1024


def data_dir(env: Mapping[str, str] = os.environ, given: str | None = None) -> Path:
    return Path(given or env.get("CARDCRM_DATA_DIR") or "./data").resolve()


def sqlite_url(folder: Path, name: str) -> str:
    return f"sqlite:///{folder / name}"


def secret_key(folder: Path, env: Mapping[str, str] = os.environ) -> str:
    """``CARDCRM_SECRET_KEY``, or a random key kept in the data folder across restarts."""
    if env.get("CARDCRM_SECRET_KEY"):
        return env["CARDCRM_SECRET_KEY"]
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def from_env(env: Mapping[str, str] = os.environ, data: str | None = None) -> dict[str, Any]:
    """The app config for the environment ``env`` (``data`` overrides ``CARDCRM_DATA_DIR``)."""
    folder = data_dir(env, data)
    return {
        "DATA_DIR": str(folder),
        "DATABASE_URL": env.get("CARDCRM_DATABASE_URL") or sqlite_url(folder, "core.db"),
        "SECRET_KEY": secret_key(folder, env),
        "PUBLIC_URL": env.get("CARDCRM_PUBLIC_URL", ""),
        "PLUGINS": env.get("CARDCRM_PLUGINS", ""),
        "PLUGINS_DIR": env.get("CARDCRM_PLUGINS_DIR") or None,
        # Sidecars reachable beside core under /calendar and /notifications (the web UI shows
        # their panels); `cardcrm up` sets it itself.
        "SIDECARS": [name for name in env.get("CARDCRM_SIDECARS", "").split(",") if name.strip()],
    }
