"""Hook specifications of the notifications service (pluggy project name ``cardcrm``).

Like core's (``cardcrm.core.hookspecs``): implementations may accept any subset of the
arguments, so arguments are only ever added here, never renamed. Hooks of this service are
named ``cardcrm_notification_*``.

A leaf module (it imports nothing of cardcrm): core's and calendar sync's plugin managers load
it too. So the types plugins return are named in the docstrings, and checked where the results
are used (``plugins.load_channels``).
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "cardcrm"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- Channels -------------------------------------------------------------------------------


@hookspec
def cardcrm_notification_channels(settings: dict[str, Any]) -> list[Any]:
    """Return the notification channels this plugin offers, as ``Channel`` objects.

    Called once when the service's app or worker starts, with the service's settings (a dict:
    ``SMTP_URL``, ``PUBLIC_URL``, ``WEBHOOK_TIMEOUT_SECONDS``...). Each channel is an instance
    of a subclass of ``cardcrm.notifications.channels.base.Channel`` with a unique ``name``;
    see that class for what to implement. All results are collected; a name offered twice is
    an error at start-up. The built-in channels (``inapp``, ``email``, ``webhook``) are
    registered through this same hook as default plugins.
    """
    raise NotImplementedError  # a specification: pluggy never calls it
