"""Errors of the notifications service.

They are core's error classes (``cardcrm.core.errors``), so that one handler, installed the
same way as in core, answers all of them as problem+json.
"""

from __future__ import annotations

from cardcrm.core.errors import (
    BadRequest,
    CardcrmError,
    Conflict,
    Invalid,
    NotFound,
    Unauthorized,
)

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "CoreUnreachable",
    "Invalid",
    "NotFound",
    "NotificationsError",
    "Unauthorized",
]


class NotificationsError(CardcrmError):
    """Root of the errors only the notifications service raises."""


class CoreUnreachable(NotificationsError):
    """Core could not be asked who the caller is; the client may try again shortly."""

    status, title = 503, "Core unavailable"


class ConfigurationError(NotificationsError):
    """The service's settings cannot work (e.g. a worker without a service token)."""

    status, title = 500, "Misconfigured"
