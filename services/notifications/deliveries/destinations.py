"""Destinations: where deliveries go, one sending slot each, and each backed off on its own.

A destination is a channel and its target (a webhook URL's origin, the SMTP server, ...;
``Channel.destination``). The worker's sender threads share one ``Destinations``: a thread
sends to a destination only while it holds that destination's slot, so a receiver that answers
slowly occupies one thread and the others serve everyone else. A destination whose sends keep
failing is backed off (exponentially, like a delivery): its deliveries wait, untouched, while
the others go on. The state lives in the worker's memory: several workers each give a slow
destination at most one thread, and each learns of a failing one by itself.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .service import backoff

#: A delivery to a destination another thread is sending to is due again after this: out of
#: the way of the next claims, back soon after the slot is free.
BUSY_RETRY = timedelta(seconds=0.5)


@dataclass
class _Backoff:
    failures: int
    until: datetime


class Destinations:
    def __init__(
        self, base: float, cap: float, jitter: Callable[[], float] = random.random
    ) -> None:
        self.base, self.cap, self.jitter = base, cap, jitter
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._backoff: dict[str, _Backoff] = {}

    def acquire(self, destination: str, now: datetime) -> datetime | None:
        """Take ``destination``'s slot: ``None`` when taken, else when to come back (the end
        of its backoff, or shortly after ``now`` when another thread is sending to it)."""
        with self._lock:
            backed_off = self._backoff.get(destination)
            if backed_off is not None and backed_off.until > now:
                return backed_off.until
            if destination in self._busy:
                return now + BUSY_RETRY
            self._busy.add(destination)
            return None

    def release(
        self,
        destination: str,
        now: datetime,
        failed: bool = False,
        retry_after: float | None = None,
    ) -> datetime | None:
        """Give the slot back after sending; a failure backs the destination off (returns
        until when), a success ends its backoff."""
        with self._lock:
            self._busy.discard(destination)
            if not failed:
                self._backoff.pop(destination, None)
                return None
            previous = self._backoff.get(destination)
            failures = previous.failures + 1 if previous else 1
            delay = backoff(failures, self.base, self.cap, retry_after, self.jitter)
            until = now + timedelta(seconds=delay)
            self._backoff[destination] = _Backoff(failures, until)
            return until

    def backed_off(self) -> dict[str, datetime]:
        """The destinations backed off, with until when (for logs and health)."""
        with self._lock:
            return {key: value.until for key, value in self._backoff.items()}
