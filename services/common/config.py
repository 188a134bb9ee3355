"""Settings every service reads the same way: the data folder, the secret key, body limits.

Each service's own ``config.from_env`` builds its settings from the environment with these.
In every service's settings ``PUBLIC_URL`` is where people reach *that* service and
``CORE_PUBLIC_URL`` where they reach core's web UI (``public_urls``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

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


def public_urls(
    env: Mapping[str, str], mount: str, own_variable: str | None = None
) -> dict[str, str]:
    """``PUBLIC_URL`` (this service's public base URL) and ``CORE_PUBLIC_URL`` (core's).

    Core's is ``CARDCRM_PUBLIC_URL``. A sidecar's is its own variable (e.g.
    ``CARDCRM_CALENDAR_PUBLIC_URL``), else core's with the sidecar's ``mount`` (``/calendar``)
    appended, as nginx and ``cardcrm up`` serve it; empty when neither is set.
    """
    core_public = env.get("CARDCRM_PUBLIC_URL", "").rstrip("/")
    own = env.get(own_variable, "").rstrip("/") if own_variable else ""
    if not own and core_public:
        own = core_public + mount
    return {"PUBLIC_URL": own, "CORE_PUBLIC_URL": core_public}
