"""Hook specifications of the calendar sync service (pluggy project name ``cardcrm``).

Implement them in any cardcrm plugin, with the same marker as the core hooks
(``cardcrm.core.hookspecs.hookimpl``). Arguments are only ever added, never renamed.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "cardcrm"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- Calendar components --------------------------------------------------------------------


@hookspec
def cardcrm_calendar_component(component, task: dict[str, Any], card: dict[str, Any]) -> None:
    """Adjust the calendar component of a task before it is served or pushed.

    Called once for each component built: the ``VEVENT`` of the iCal feed, and the ``VTODO``
    of the feed's ``?format=todos`` and of the to-do pushed to a CalDAV calendar.
    ``component`` is an ``icalendar.Event`` or ``icalendar.Todo`` (``component.name`` says
    which) with every property cardcrm sets; change it in place. ``task`` is the task as core's
    API shows it (``id``, ``text``, ``type``, ``due``, ``all_day``...), ``card`` is
    ``{"id", "title", "product_id", "url"}``. Returns nothing. Every plugin is called; one
    that raises is logged and skipped. Components are rendered once per change of the task and
    kept, so the hook must depend on nothing but its arguments.
    """
