"""Settings of the core service, read from the environment (see API.md, Command line)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cardcrm.common.config import data_dir, public_urls, secret_key, sqlite_url
from cardcrm.common.errors import ConfigurationError
from cardcrm.common.i18n import default_language

from . import answers
from .auth.sessions import DEFAULT_IDLE_HOURS, DEFAULT_MAX_DAYS
from .csv_io.limits import limits_from_env
from .files.service import DEFAULT_MAX_UPLOAD_MB, MEBIBYTE
from .mail.address import domain_from_env


def from_env(env: Mapping[str, str] = os.environ, data: str | None = None) -> dict[str, Any]:
    """The app config for the environment ``env`` (``data`` overrides ``CARDCRM_DATA_DIR``)."""
    folder = data_dir(env, data)
    return {
        "DATA_DIR": str(folder),
        "DATABASE_URL": env.get("CARDCRM_DATABASE_URL") or sqlite_url(folder, "core.db"),
        "SECRET_KEY": secret_key(folder, env),
        **public_urls(env, mount=""),
        "PLUGINS": env.get("CARDCRM_PLUGINS", ""),
        # For people whose profile and browser name no language cardcrm has (docs/languages.md).
        "DEFAULT_LANGUAGE": default_language(env),
        "PLUGINS_DIR": env.get("CARDCRM_PLUGINS_DIR") or None,
        # Sidecars reachable beside core under /calendar and /notifications (the web UI shows
        # their panels); `cardcrm up` sets it itself.
        "SIDECARS": [name for name in env.get("CARDCRM_SIDECARS", "").split(",") if name.strip()],
        # A web session ends this long after its last request, and this long after login.
        "SESSION_IDLE_HOURS": _positive(env, "CARDCRM_SESSION_IDLE_HOURS", DEFAULT_IDLE_HOURS),
        "SESSION_MAX_DAYS": _positive(env, "CARDCRM_SESSION_MAX_DAYS", DEFAULT_MAX_DAYS),
        # How large a CSV file an import over HTTP takes (CARDCRM_CSV_MAX_MB, _MAX_ROWS).
        **limits_from_env(env),
        # Card e-mail addresses' domain, and the largest message filed on a card (docs/mail.md).
        "MAIL_DOMAIN": domain_from_env(env),
        "MAIL_MAX_BYTES": int(
            _positive(env, "CARDCRM_MAIL_MAX_MB", DEFAULT_MAIL_MAX_MB) * 1024 * 1024
        ),
        # Card files: where their bytes are kept, and the largest upload (docs/files.md).
        "FILES_DIR": env.get("CARDCRM_FILES_DIR") or str(folder / "files"),
        "MAX_UPLOAD_BYTES": int(
            _positive(env, "CARDCRM_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB) * MEBIBYTE
        ),
        # Answers each process keeps while the data is unchanged (answers.py); 0: none.
        "ANSWER_CACHE_BYTES": int(
            _at_least_zero(env, "CARDCRM_ANSWER_CACHE_MB", answers.DEFAULT_MB) * MEBIBYTE
        ),
    }


#: The largest message (MB) the receiver takes and core files (``CARDCRM_MAIL_MAX_MB``).
DEFAULT_MAIL_MAX_MB = 25


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value < 100_000:
        raise ConfigurationError(f"{name} must be a positive number, not {text!r}.")
    return value


def _at_least_zero(env: Mapping[str, str], name: str, default: float) -> float:
    """A number of ``name`` from 0 (off) up; like ``_positive`` otherwise."""
    try:
        off = float(env.get(name, "").strip()) == 0
    except ValueError:
        off = False  # not a number: ``_positive`` says so
    return 0.0 if off else _positive(env, name, default)
