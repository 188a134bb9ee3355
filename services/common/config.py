"""Settings every service reads the same way: the data folder, the secret key, body limits.

Each service's own ``config.from_env`` builds its settings from the environment with these.
In every service's settings ``PUBLIC_URL`` is where people reach *that* service and
``CORE_PUBLIC_URL`` where they reach core's web UI (``public_urls``).

A setting the services must not start with raises ``ConfigurationError``; the command line
turns it into a one-line error that names the variable and the fix.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigurationError
from .private_files import private_folder, write_private

MAX_BODY_BYTES = 1024 * 1024

#: ``CARDCRM_SECRET_KEY`` signs sessions and keys the encryption of CalDAV passwords and webhook
#: secrets: shorter than this, or a placeholder, and the services refuse to start.
MIN_SECRET_KEY_LENGTH = 32
#: Values copied from examples and tutorials (compared without case, ``-``, ``_`` or spaces).
PLACEHOLDER_KEYS = frozenset(
    {"changeme", "secret", "secretkey", "mysecret", "password", "default", "example", "test"}
)
#: A key containing one of these was never filled in ("CHANGE-ME-to-something-long").
PLACEHOLDER_WORDS = ("changeme", "replaceme", "yoursecret", "putyour")
GENERATE_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def data_dir(env: Mapping[str, str] = os.environ, given: str | None = None) -> Path:
    return Path(given or env.get("CARDCRM_DATA_DIR") or "./data").resolve()


def sqlite_url(folder: Path, name: str) -> str:
    return f"sqlite:///{folder / name}"


def secret_key(folder: Path, env: Mapping[str, str] = os.environ) -> str:
    """``CARDCRM_SECRET_KEY``, or a random key kept in the data folder across restarts.

    The variable is checked (``check_secret_key``) because an operator types or copies it; the
    generated key is 64 random characters. A settings dict given to ``create_app`` in code
    (tests, an embedding application) is taken as it is.
    """
    if env.get("CARDCRM_SECRET_KEY"):
        return check_secret_key(env["CARDCRM_SECRET_KEY"])
    path = folder / "secret_key"
    if not path.exists():
        private_folder(folder)
        write_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def check_secret_key(value: str) -> str:
    """``value`` if it can be ``CARDCRM_SECRET_KEY``; else ``ConfigurationError`` saying why.

    A placeholder left from an example (``CHANGE-ME``, ``changeme``, ``secret``...) or a key
    shorter than ``MIN_SECRET_KEY_LENGTH`` would let anyone who guesses it forge sessions and
    read stored passwords. The message never repeats the value: it may be a real, short key.
    """
    folded = "".join(character for character in value.lower() if character not in "-_ \t")
    fix = (
        f"set it to a random value of at least {MIN_SECRET_KEY_LENGTH} characters ({GENERATE_KEY})"
        ", or leave it unset to use a key generated in the data folder."
    )
    if folded in PLACEHOLDER_KEYS or any(word in folded for word in PLACEHOLDER_WORDS):
        raise ConfigurationError(f"CARDCRM_SECRET_KEY is a placeholder: {fix}")
    if len(value.strip()) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"CARDCRM_SECRET_KEY is too short ({len(value.strip())} characters): {fix}"
        )
    return value


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
