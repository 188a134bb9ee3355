"""The notifications service: tells people what they need to know, on the channel they chose.

A separate Flask app with its own database (preferences, reminders, the in-app inbox and the
delivery log) and a worker that follows core's event feed over HTTP. See docs/notifications.md.
The package is what ``services/server.py`` runs: ``create_app(settings)``, ``config.from_env``,
``migrate.upgrade(url)`` and ``worker.run(settings, stop)``.
"""

from . import config, migrate, worker
from .app import create_app

__all__ = ["config", "create_app", "migrate", "worker"]
