"""Writing a checked import in short batches, so that other users' writes go in between.

Each batch is one write transaction, which holds SQLite's write lock. Batches aim at
``BATCH_SECONDS`` in their transaction, their size adapted from the speed of the last one (a
busy machine gets smaller batches). Between two transactions the lock is free for at least
``SQLITE_GAP``: writers waiting for SQLite's lock sleep in steps of up to 100 ms, so a
shorter gap could end before any of them looks again. The next batch is prepared in that gap
(rows and payloads made without the lock), so the gap costs little. (On PostgreSQL writers
wait on row locks instead and need no gap.)

What a batch relies on is checked again under its lock; when something changed since the
file was checked, the batch raises ``ImportInterrupted`` and is not written, and the import
stops there: the batches before it stay.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cardcrm.common.db import write_transaction
from sqlalchemy.orm import Session

from .errors import ImportInterrupted
from .spool import PlanSpool

#: The time a batch aims to hold the lock, and its first, smallest and largest sizes (the
#: largest also bounds the memory a prepared batch takes).
BATCH_SECONDS = 0.3
FIRST_BATCH, MIN_BATCH, MAX_BATCH = 1000, 200, 5000
SQLITE_GAP = 0.1

Prepared = TypeVar("Prepared")


@dataclass
class Progress:
    """What the batches so far wrote (for the answer when one is interrupted)."""

    created: int = 0
    updated: int = 0
    batch_size: int = FIRST_BATCH

    def interrupted(self, line: int, reason: str) -> ImportInterrupted:
        return ImportInterrupted(line, reason, self.created, self.updated)


def write_in_batches(
    session: Session,
    spool: PlanSpool,
    prepare: Callable[[list[Any]], Prepared],
    write: Callable[[Prepared, Progress], None],
    is_new: Callable[[Any], bool],
) -> Progress:
    """For each batch of the spool: ``prepare(plans)`` without a lock (this is most of the
    gap between two batches), then ``write(prepared, progress)`` in a write transaction."""
    progress = Progress(batch_size=FIRST_BATCH)
    gap = SQLITE_GAP if session.get_bind().dialect.name == "sqlite" else 0.0
    committed: float | None = None
    for batch in spool.batches(lambda: progress.batch_size):
        prepared = prepare(batch)
        if committed is not None:
            time.sleep(max(0.0, committed + gap - time.perf_counter()))
        started = time.perf_counter()
        with write_transaction(session):
            write(prepared, progress)
        del prepared  # not kept while the next batch is prepared: one batch in memory
        committed = time.perf_counter()
        wanted = int(len(batch) * BATCH_SECONDS / max(committed - started, 1e-3))
        progress.batch_size = max(MIN_BATCH, min(MAX_BATCH, wanted))
        created = sum(1 for plan in batch if is_new(plan))
        progress.created += created
        progress.updated += len(batch) - created
    return progress
