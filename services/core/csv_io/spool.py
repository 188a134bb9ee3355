"""What a checked file will write, kept on disk between the check and the writes.

The check turns each good row into a small plan (a named tuple); plans are pickled to a
temporary file a chunk at a time and read back in batches, so an import of any size holds one
chunk of plans in memory, never the whole file's.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any


class PlanSpool:
    """A temporary file of plans, appended in chunks and read back in batches
    (``with PlanSpool() as spool:``; the file is gone when the block ends)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="cardcrm-import-")  # noqa: SIM115 - closed in __exit__
        self.count = 0

    def __enter__(self) -> PlanSpool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._file.close()

    def add(self, plans: list[Any]) -> None:
        if plans:
            pickle.dump(plans, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self.count += len(plans)

    def batches(self, size: Callable[[], int]) -> Iterator[list[Any]]:
        """The plans in the order they were added, in lists of ``size()`` plans (the last
        one shorter); ``size`` is asked before each list (the writer adapts it)."""
        self._file.flush()
        self._file.seek(0)
        pending: list[Any] = []
        while True:
            wanted = size()
            while len(pending) < wanted:
                try:
                    pending.extend(pickle.load(self._file))
                except EOFError:
                    break
            if not pending:
                return
            yield pending[:wanted]
            pending = pending[wanted:]
