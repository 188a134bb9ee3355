"""The calendar sync service: each user's tasks in the calendar apps they already use.

A secret iCal feed per user, and two-way sync with a CalDAV account, built from a mirror of
core's events kept in this service's own database (see docs/calendar.md).

``create_app`` and ``worker`` are loaded on first use, so that importing only the hook
specifications (``cardcrm.calendar_sync.hookspecs``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["create_app", "worker"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        return importlib.import_module(".app", __name__).create_app
    if name == "worker":
        return importlib.import_module(".worker", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
