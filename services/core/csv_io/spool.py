"""What a checked file will write, kept on disk between the check and the writes.

The check turns each good row into a small plan (a named tuple); plans are written to a
temporary file a chunk at a time and read back in batches, so an import of any size holds one
chunk of plans in memory, never the whole file's.

A chunk is written with ``marshal`` when its values allow it (numbers, text, lists, dicts: a new
card's plan), else with ``pickle`` (a ``datetime``). Both go through the chunk's plain tuples,
the plans' classes kept aside: pickling named tuples calls back into Python for each one, and
was a tenth of an import's time; ``marshal`` of plain tuples takes a fifth of that. The file
lives only as long as the import, in this process, so ``marshal``'s format (that of this Python)
is all it needs.
"""

from __future__ import annotations

import marshal
import pickle
import struct
import tempfile
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

#: A chunk's header: its length in bytes, how it is written (``m``/``p``).
_HEADER = struct.Struct("<Qc")


class PlanSpool:
    """A temporary file of plans (named tuples), appended in chunks and read back in batches
    (``with PlanSpool() as spool:``; the file is gone when the block ends)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="cardcrm-import-")  # noqa: SIM115 - closed in __exit__
        self.count = 0
        self._classes: list[type] = []
        self._class_index: dict[type, int] = {}

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
        if not plans:
            return
        kinds = bytes(self._index(type(plan)) for plan in plans)
        chunk = (kinds, [tuple(plan) for plan in plans])
        try:
            data, how = marshal.dumps(chunk), b"m"
        except ValueError:  # a value marshal does not take
            data, how = pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL), b"p"
        self._file.write(_HEADER.pack(len(data), how))
        self._file.write(data)
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
                chunk = self._read_chunk()
                if chunk is None:
                    break
                pending.extend(chunk)
            if not pending:
                return
            yield pending[:wanted]
            pending = pending[wanted:]

    def _index(self, plan_class: type) -> int:
        index = self._class_index.get(plan_class)
        if index is None:
            index = self._class_index[plan_class] = len(self._classes)
            self._classes.append(plan_class)
        return index

    def _read_chunk(self) -> list[Any] | None:
        header = self._file.read(_HEADER.size)
        if not header:
            return None
        length, how = _HEADER.unpack(header)
        data = self._file.read(length)
        kinds, values = marshal.loads(data) if how == b"m" else pickle.loads(data)  # noqa: S301 - our own file
        # tuple.__new__ makes the named tuple without its Python-level __new__.
        new, classes = tuple.__new__, self._classes
        return [new(classes[kind], value) for kind, value in zip(kinds, values, strict=True)]
