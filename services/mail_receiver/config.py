"""Settings of the mail receiver, read from the environment (docs/mail.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cardcrm.common.errors import ConfigurationError

DEFAULT_LISTEN = "127.0.0.1:2525"
DEFAULT_MAX_MB = 25


def from_env(env: Mapping[str, str] = os.environ, data: str | None = None) -> dict[str, Any]:
    """``LISTEN`` (host, port), ``CORE_URL``, ``SERVICE_TOKEN`` and ``MAX_BYTES``."""
    return {
        "LISTEN": parse_listen(env.get("CARDCRM_MAIL_LISTEN") or DEFAULT_LISTEN),
        "CORE_URL": env.get("CARDCRM_CORE_URL") or "http://127.0.0.1:8000",
        # Its own token (mail:deliver only) when the sidecars' is also in the environment.
        "SERVICE_TOKEN": env.get("CARDCRM_MAIL_SERVICE_TOKEN")
        or env.get("CARDCRM_SERVICE_TOKEN")
        or None,
        "MAX_BYTES": max_bytes(env),
    }


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:2525`` for IPv6) as ``(host, port)``."""
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"CARDCRM_MAIL_LISTEN must be host:port, not {text!r}.")
    return host, int(port)


def max_bytes(env: Mapping[str, str]) -> int:
    text = env.get("CARDCRM_MAIL_MAX_MB", "").strip() or str(DEFAULT_MAX_MB)
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value < 100_000:
        raise ConfigurationError(f"CARDCRM_MAIL_MAX_MB must be a positive number, not {text!r}.")
    return int(value * 1024 * 1024)
