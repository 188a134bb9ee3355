"""Python's cycle collector during an import: fewer, larger collections.

An import makes millions of short-lived objects (a row's cells, its plan, a batch's rows and
payloads), and keeps a batch of them alive at a time. With Python's default thresholds
(700, 10, 10) that set off thousands of collections, about twenty of them over the whole heap
of the worker (every object of Flask, SQLAlchemy, marshmallow...): a third of the CPU time of a
100,000-row import's writing (the profile in docs/benchmarks.md). During an import the youngest
generation is collected every ``YOUNG`` new objects instead, and the older generations far less
often. Memory stays flat: cyclic garbage is still collected, a few thousand objects later, and
an import frees its objects by reference counting anyway (it makes few cycles).

The thresholds are the whole process's: the first import to start sets them and the last to
end puts back what they were, so other requests of the worker run with them meanwhile (they
only collect less often).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: New objects between two collections of the youngest generation, and how many of those
#: between two of the middle one, and of the middle one's between two of the whole heap.
YOUNG, MIDDLE, OLD = 10_000, 50, 100

_lock = threading.Lock()
_running = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cycles less often while the block runs (an import)."""
    global _running, _saved
    with _lock:
        if _running == 0:
            _saved = gc.get_threshold()
            young, middle, old = _saved
            if young:  # 0: the collector is off; leave it so
                gc.set_threshold(max(young, YOUNG), max(middle, MIDDLE), max(old, OLD))
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                gc.set_threshold(*_saved)
