"""The sync worker: follows core's events into the mirror and syncs CalDAV accounts.

Two loops, one thread each: the follower long-polls core's events and applies each event to the
mirror (cursor and effects in one transaction); the sync loop pushes what the follower queued
(woken at once when it queues something) and pulls each account's changes every
``PULL_SECONDS``. Both resume where they stopped after a crash: the cursor and the queue live
in the database.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .caldav.sync import IDLE_SECONDS, CalDAVSync
from .context import CalendarContext

log = logging.getLogger(__name__)


def run(settings: dict[str, Any], stop: threading.Event) -> None:
    """Follow core's events and sync CalDAV accounts until ``stop`` is set.

    ``FOLLOW_WAIT`` in the settings is how long one long-poll of core's events may wait
    (20 s by default).
    """
    context = CalendarContext.from_settings(settings)
    wake = threading.Event()
    follower = context.follower(
        on_handled=lambda _count: wake.set(), wait=float(settings.get("FOLLOW_WAIT") or 20.0)
    )
    sync = CalDAVSync(context)
    following = threading.Thread(
        target=follower.run, args=(stop,), name="calendar-follower", daemon=True
    )
    following.start()
    log.info("calendar sync worker following %s", context.core.base_url)
    try:
        while not stop.is_set():
            wake.clear()
            try:
                delay = sync.run_once()
            except Exception:
                log.exception("calendar sync round failed; retrying")
                delay = IDLE_SECONDS
            _sleep(delay, wake, stop)
    finally:
        # The follower notices ``stop`` when its long-poll returns (at most FOLLOW_WAIT).
        following.join(timeout=2)
        sync.close()
        context.close()


def _sleep(seconds: float, wake: threading.Event, stop: threading.Event) -> None:
    """Until ``seconds`` passed, the follower queued something, or the worker must stop."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and not wake.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        wake.wait(min(remaining, 0.25))
