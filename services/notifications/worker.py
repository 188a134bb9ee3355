"""The worker: follow core's event feed, schedule reminders and digests, send deliveries.

``run(settings, stop)`` runs it in threads until ``stop`` is set: one follower (long-poll,
backing off while core is down), one scheduler, and a few senders woken as soon as the
follower commits new deliveries. ``Worker`` exposes the same work as steps, so that tests and
benchmarks drive it deterministically with their own clock.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from cardcrm.common.errors import ConfigurationError
from cardcrm.common.timeutil import Clock
from cardcrm.sidecar.core_client import CoreError
from cardcrm.sidecar.follower import EventFollower

from .config import dead_letter_after, setting
from .context import NotificationsContext
from .deliveries.dispatcher import Dispatcher
from .digest import send_due_digests
from .events import FOLLOWER_NAME, EventCursor, EventHandler, first_start
from .reminders.service import send_due_reminders

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        settings: dict[str, Any],
        clock: Clock | None = None,
        context: NotificationsContext | None = None,
    ) -> None:
        self.context = context or NotificationsContext.from_settings(settings)
        self.settings = self.context.settings
        self.clock = clock or self.context.clock
        #: set when there may be deliveries to send (the follower committed some)
        self.wake = threading.Event()
        self.handler = EventHandler(self.context, self.clock)
        self.follower = EventFollower(
            FOLLOWER_NAME,
            self.context.client(),
            self.context.db.writer,
            EventCursor,
            self.handler,
            wait=float(setting(self.settings, "FEED_WAIT_SECONDS")),
            on_handled=lambda _count: self.wake.set(),
            events_per_transaction=int(setting(self.settings, "EVENTS_PER_TRANSACTION")),
        )
        self.scheduler_client = self.context.client()
        self.dispatcher = Dispatcher(self.context, self.clock)
        #: one sending slot and backoff per destination, shared by the sender threads
        self.destinations = self.dispatcher.destinations
        self.started = False

    # --- steps ------------------------------------------------------------------------------

    def start(self) -> None:
        """Note the first start (events before it are history) once; idempotent."""
        if not self.started:
            self.handler.notify_since = first_start(self.context, self.clock())
            self.started = True

    def follow(self, wait: float = 0) -> int:
        """Handle one page of events; how many."""
        self.start()
        return self.follower.step(wait=wait)

    def schedule(self, now: datetime | None = None) -> int:
        """Record the reminders and digests due at ``now``; how many."""
        now = now or self.clock()
        return send_due_reminders(self.context, self.scheduler_client, now) + send_due_digests(
            self.context, self.scheduler_client, now
        )

    def deliver(self, now: datetime | None = None, limit: int = 20) -> int:
        """Send one batch of due deliveries (to one destination); how many were settled."""
        return self.dispatcher.step(now, limit)

    def drain(self, now: datetime | None = None) -> dict[str, int]:
        """Do everything there is to do at ``now``: catch up with the event feed, schedule, send."""
        self.start()
        counts = {"events": self.follower.catch_up(), "scheduled": self.schedule(now)}
        delivered = 0
        while sent := self.deliver(now, limit=100):
            delivered += sent
        counts["delivered"] = delivered
        return counts

    # --- threads ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set."""
        if not self.settings.get("SERVICE_TOKEN"):
            raise ConfigurationError(
                "The notifications worker reads core's event feed with a service token: "
                "set CARDCRM_SERVICE_TOKEN (`cardcrm token create --service notifications`)."
            )
        shortest, longest = dead_letter_after(self.settings)
        log.info(
            "deliveries: %s attempts, backoff from %ss doubling up to %ss; a delivery that keeps "
            "failing is dead-lettered %.1f to %.1f hours after its first attempt",
            setting(self.settings, "DELIVERY_MAX_ATTEMPTS"),
            setting(self.settings, "DELIVERY_BACKOFF_SECONDS"),
            setting(self.settings, "DELIVERY_BACKOFF_MAX_SECONDS"),
            shortest / 3600,
            longest / 3600,
        )
        while not stop.is_set():
            try:
                self.start()
                break
            except Exception:
                log.exception("notifications worker cannot start; retrying")
                stop.wait(5)
        poll = float(setting(self.settings, "POLL_SECONDS"))
        threads = [
            threading.Thread(target=self.follower.run, args=(stop,), name="notifications-feed"),
            threading.Thread(
                target=self._loop, args=(stop, self.schedule, poll), name="notifications-schedule"
            ),
        ]
        for number in range(int(setting(self.settings, "SENDER_THREADS"))):
            dispatcher = Dispatcher(self.context, self.clock, destinations=self.destinations)
            threads.append(
                threading.Thread(
                    target=self._send_loop,
                    args=(stop, dispatcher, poll),
                    name=f"notifications-send-{number + 1}",
                )
            )
        for thread in threads:
            thread.daemon = True
            thread.start()
        try:
            stop.wait()
        finally:
            self.wake.set()
            for thread in threads:
                thread.join(timeout=30)
            self.context.close()

    def _loop(self, stop: threading.Event, step: Any, interval: float) -> None:
        failures = 0
        while not stop.is_set():
            try:
                step()
                failures = 0
            except CoreError as error:
                failures += 1
                log.warning("notifications scheduler: core failed (%s)", error)
            except Exception:
                failures += 1
                log.exception("notifications scheduler failed; retrying")
            stop.wait(min(60.0, interval * 2**failures))

    def _send_loop(self, stop: threading.Event, dispatcher: Dispatcher, poll: float) -> None:
        batch = int(setting(self.settings, "SEND_BATCH"))
        try:
            while not stop.is_set():
                try:
                    # Small batches, so that the threads share a burst (sends wait on I/O);
                    # each step sends to one destination, whose slot it holds meanwhile.
                    if dispatcher.step(limit=batch):
                        continue
                except Exception:
                    log.exception("notifications sender failed; retrying")
                self.wake.wait(poll)
                self.wake.clear()
        finally:
            for channel in self.context.channels.values():
                channel.close()  # this thread's connections


def run(settings: dict[str, Any], stop: threading.Event) -> None:
    """Run the notifications worker until ``stop`` is set (``cardcrm worker notifications``)."""
    Worker(settings).run(stop)
