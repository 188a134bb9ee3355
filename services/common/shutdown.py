"""A worker process's stop: callbacks that make long-running requests answer at once.

Gunicorn gives the requests in flight ``graceful_timeout`` seconds when a worker is told to stop
(``SIGTERM``), then kills them. A request that waits by design (the event feed's long-poll, up
to 30 s) would be cut off rather than answered. ``cardcrm serve`` therefore chains a handler
for ``SIGTERM`` in each worker (``chain_stop_signal``) that first calls every callback given to
``on_stop`` (the feed's notifier wakes its waiting long-polls, which answer their page), then
gunicorn's own handler (which stops taking new requests and waits for those in flight).

Callbacks are bound methods held weakly: an app that is gone (in tests, many are made) is not
kept alive by having registered one.
"""

from __future__ import annotations

import logging
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_callbacks: list[weakref.WeakMethod[Callable[[], None]]] = []
stopping = threading.Event()


def on_stop(callback: Callable[[], None]) -> None:
    """Call the bound method ``callback`` when this process begins to stop."""
    with _lock:
        _callbacks[:] = [ref for ref in _callbacks if ref() is not None]
        _callbacks.append(weakref.WeakMethod(callback))


def begin_stop() -> None:
    """The process is stopping: run every callback once (each on its own: one failing is logged)."""
    stopping.set()
    with _lock:
        callbacks = [ref() for ref in _callbacks]
    for callback in callbacks:
        if callback is None:
            continue
        try:
            callback()
        except Exception:
            log.exception("stop callback %r failed", callback)


def chain_stop_signal(signum: int = signal.SIGTERM) -> None:
    """On ``signum``, run ``begin_stop``, then the handler set before (in the main thread)."""
    previous = signal.getsignal(signum)

    def handler(number: int, frame: FrameType | None) -> Any:
        begin_stop()
        if callable(previous):
            return previous(number, frame)
        if previous == signal.SIG_DFL:
            signal.signal(number, signal.SIG_DFL)
            signal.raise_signal(number)
        return None

    signal.signal(signum, handler)
