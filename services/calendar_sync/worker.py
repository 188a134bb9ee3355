"""The sync worker: follows core's events into the mirror and syncs CalDAV accounts.

Two loops, one thread each: the follower long-polls core's events and applies each event to the
mirror (cursor and effects in one transaction); the sync loop pushes what the follower queued
(woken at once when it queues something) and pulls each account's changes every
``PULL_SECONDS``. Both resume where they stopped after a crash: the cursor and the queue live
in the database. The sync loop also does the service's housekeeping (``Housekeeping``): now
and then, it prunes the CalDAV server's change log.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .caldav.sync import IDLE_SECONDS, CalDAVSync
from .context import CalendarContext
from .dav.store import KEEP_CHANGES_DAYS, prune_changes

log = logging.getLogger(__name__)

#: Seconds between two runs of ``Housekeeping``.
PRUNE_SECONDS = 3600.0


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
    housekeeping = Housekeeping(context)
    following = threading.Thread(
        target=follower.run, args=(stop,), name="calendar-follower", daemon=True
    )
    following.start()
    log.info("calendar sync worker following %s", context.core.base_url)
    try:
        while not stop.is_set():
            wake.clear()
            housekeeping.run_due()
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


class Housekeeping:
    """Periodic work besides the sync rounds, run by the sync loop at most every
    ``PRUNE_SECONDS`` (an hour by default): pruning the CalDAV server's change log of rows older
    than ``DAV_CHANGES_KEEP_DAYS`` (``store.KEEP_CHANGES_DAYS`` by default; ``store.prune_changes``
    says what a client whose token is older than that gets). Any number of workers may run it:
    a second prune at the same moment finds nothing more to delete."""

    def __init__(self, context: CalendarContext) -> None:
        self.context = context
        settings = context.settings
        self.every = float(settings.get("PRUNE_SECONDS") or PRUNE_SECONDS)
        self.keep_days = float(settings.get("DAV_CHANGES_KEEP_DAYS") or KEEP_CHANGES_DAYS)
        self._last: float | None = None

    def run_due(self) -> int:
        """Prune if the last run is ``every`` seconds ago (or none ran); returns the rows
        pruned. A failure is logged and tried again at the next run."""
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every:
            return 0
        self._last = now
        try:
            return self.run()
        except Exception:
            log.exception("calendar housekeeping failed; retrying later")
            return 0

    def run(self) -> int:
        with self.context.database.writer.begin() as session:
            pruned = prune_changes(session, self.context.clock(), self.keep_days)
        if pruned:
            log.info("pruned %s rows of the CalDAV change log", pruned)
        return pruned


def _sleep(seconds: float, wake: threading.Event, stop: threading.Event) -> None:
    """Until ``seconds`` passed, the follower queued something, or the worker must stop."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and not wake.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        wake.wait(min(remaining, 0.25))
