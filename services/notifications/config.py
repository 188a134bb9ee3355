"""Settings of the notifications service, read from the environment (see API.md, Command line)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cardcrm.common.config import data_dir, public_urls, secret_key, sqlite_url
from cardcrm.common.errors import ConfigurationError
from cardcrm.common.i18n import default_language
from cardcrm.common.outbound import OutboundPolicy

#: Tuning with sensible defaults; any of them may be given in the settings dict.
DEFAULTS: dict[str, Any] = {
    # Deliveries: attempts before a delivery is dead-lettered, and the backoff between them
    # (exponential from BACKOFF, capped at BACKOFF_MAX, with jitter).
    "DELIVERY_MAX_ATTEMPTS": 10,
    "DELIVERY_BACKOFF_SECONDS": 30.0,
    "DELIVERY_BACKOFF_MAX_SECONDS": 7200.0,
    # A delivery marked `sending` by a worker that then died is sent again after this long.
    "SENDING_LEASE_SECONDS": 120.0,
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,
    "SMTP_TIMEOUT_SECONDS": 20.0,
    # A reminder later than this after the task's deadline is not sent (the digest covers it).
    "REMINDER_GRACE_SECONDS": 24 * 3600.0,
    # Events that happened before the service's first start only build its state (cards,
    # tasks to remind of); set true to notify about them too.
    "NOTIFY_PAST_EVENTS": False,
    # The worker: threads sending deliveries, and how often idle loops look for work.
    "SENDER_THREADS": 4,
    "SEND_BATCH": 5,
    "POLL_SECONDS": 1.0,
    "FEED_WAIT_SECONDS": 20.0,
    # Events handled per transaction of the follower (with the cursor's move).
    "EVENTS_PER_TRANSACTION": 50,
    # Confirming a notification e-mail address (preferences.verification): how long a link
    # works, and how long after one message to a user the next may go out.
    "EMAIL_VERIFICATION_TTL_SECONDS": 24 * 3600.0,
    "EMAIL_VERIFICATION_INTERVAL_SECONDS": 60.0,
}


def from_env(env: Mapping[str, str] = os.environ, data: str | None = None) -> dict[str, Any]:
    """The service's settings for the environment ``env`` (``data`` overrides the data folder)."""
    folder = data_dir(env, data)
    return {
        **DEFAULTS,
        "DATA_DIR": str(folder),
        "DATABASE_URL": env.get("CARDCRM_NOTIFICATIONS_DATABASE_URL")
        or sqlite_url(folder, "notifications.db"),
        "CORE_URL": env.get("CARDCRM_CORE_URL") or "http://127.0.0.1:8000",
        "SERVICE_TOKEN": env.get("CARDCRM_SERVICE_TOKEN") or None,
        "SECRET_KEY": secret_key(folder, env),
        "SMTP_URL": env.get("CARDCRM_SMTP_URL") or None,
        # Messages to people who chose no language in their profile are in this one.
        "DEFAULT_LANGUAGE": default_language(env),
        # Core's public URL: links to cards in e-mails point there.
        # PUBLIC_URL: this service's; CORE_PUBLIC_URL: core's web UI, which messages link to.
        **public_urls(env, "/notifications", "CARDCRM_NOTIFICATIONS_PUBLIC_URL"),
        "PLUGINS": env.get("CARDCRM_PLUGINS", ""),
        "PLUGINS_DIR": env.get("CARDCRM_PLUGINS_DIR") or None,
        # Webhook URLs may be private only where CARDCRM_OUTBOUND_ALLOW says.
        "OUTBOUND_ALLOW": OutboundPolicy.from_env(env),
        **retries_from_env(env),
    }


#: The retry settings operators may set, with the environment variable and allowed range.
RETRY_VARIABLES = {
    "DELIVERY_MAX_ATTEMPTS": ("CARDCRM_DELIVERY_MAX_ATTEMPTS", 1, 100),
    "DELIVERY_BACKOFF_SECONDS": ("CARDCRM_DELIVERY_BACKOFF_SECONDS", 0.1, 86_400),
    "DELIVERY_BACKOFF_MAX_SECONDS": ("CARDCRM_DELIVERY_BACKOFF_MAX_SECONDS", 0.1, 7 * 86_400),
}


def retries_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """How often and how long a failing delivery is retried before it is dead-lettered:
    the defaults, or what the environment says; ``ConfigurationError`` on a value the
    service must not start with (not a number, out of range, a cap below the backoff)."""
    values: dict[str, Any] = {}
    for key, (name, low, high) in RETRY_VARIABLES.items():
        text = env.get(name, "").strip()
        if not text:
            values[key] = DEFAULTS[key]
            continue
        try:
            value = int(text) if key == "DELIVERY_MAX_ATTEMPTS" else float(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            kind = "a whole number" if key == "DELIVERY_MAX_ATTEMPTS" else "a number of seconds"
            raise ConfigurationError(f"{name} must be {kind} from {low} to {high}, not {text!r}.")
        values[key] = value
    if values["DELIVERY_BACKOFF_MAX_SECONDS"] < values["DELIVERY_BACKOFF_SECONDS"]:
        raise ConfigurationError(
            "CARDCRM_DELIVERY_BACKOFF_MAX_SECONDS caps the backoff: it must be at least "
            f"CARDCRM_DELIVERY_BACKOFF_SECONDS ({values['DELIVERY_BACKOFF_SECONDS']})."
        )
    return values


def dead_letter_after(settings: Mapping[str, Any]) -> tuple[float, float]:
    """The shortest and longest time (seconds; the jitter picks in between) from a delivery's
    first failed attempt to its dead letter, when every attempt fails at once."""
    attempts = int(setting(settings, "DELIVERY_MAX_ATTEMPTS"))
    base = float(setting(settings, "DELIVERY_BACKOFF_SECONDS"))
    cap = float(setting(settings, "DELIVERY_BACKOFF_MAX_SECONDS"))
    longest = sum(min(cap, base * 2 ** (attempt - 1)) for attempt in range(1, attempts))
    return longest / 2, longest


def setting(settings: Mapping[str, Any], key: str) -> Any:
    """``settings[key]``, or its default."""
    value = settings.get(key)
    return DEFAULTS[key] if value is None else value
