"""Writing CSV for spreadsheets: formula-like cells kept text, rows streamed in batches."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .formulas import escape


class CsvWriter:
    """Rows to CSV text, handed out in pieces (a streamed response writes each piece)."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def row(self, cells: Iterable[Any]) -> None:
        self._writer.writerow([escape(cell) if isinstance(cell, str) else cell for cell in cells])

    def take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


def stream_rows(
    sessions: Callable[[], Any],
    query: Any,
    id_column: Any,
    header: Iterable[str],
    cells: Callable[[Any], list[Any]],
    bom: bool,
    batch_size: int,
) -> Iterator[str]:
    """CSV text of ``query``'s rows, read in keyset batches on ``id_column`` (``query`` orders
    by it and is limited to ``batch_size``): the header, then one piece per batch."""
    writer = CsvWriter()
    writer.row(header)
    first = ("\ufeff" if bom else "") + writer.take()

    def pieces() -> Iterator[str]:
        yield first
        session = sessions()
        try:
            after = 0
            while True:
                rows = session.execute(query.where(id_column > after)).all()
                for row in rows:
                    writer.row(cells(row))
                if rows:
                    yield writer.take()
                if len(rows) < batch_size:
                    return
                after = rows[-1].id
        finally:
            session.close()

    return pieces()
