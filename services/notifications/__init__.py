"""The notifications service: tells people what they need to know, on the channel they chose.

A separate Flask app with its own database (preferences, reminders, the in-app inbox and the
delivery log) and a worker that follows core's event feed over HTTP. See docs/notifications.md.
The package is what ``services/server.py`` runs: ``create_app(settings)``, ``config.from_env``,
``migrate.upgrade(url)`` and ``worker.run(settings, stop)``.

They are loaded on first use (as in ``cardcrm.calendar_sync``), so that importing only what a
plugin needs (``hookspecs``, ``channels.base``) does not load the whole service: core's plugin
manager imports ``cardcrm.notifications.hookspecs``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["config", "create_app", "migrate", "worker"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        return importlib.import_module(".app", __name__).create_app
    if name in ("config", "migrate", "worker"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
