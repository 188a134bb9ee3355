"""Reading and writing CSV the way spreadsheets do: UTF-8 with or without a BOM, `,` or `;`.

An import reads its file twice (once to check every row, once to write), so a file is opened
through ``CsvFile``, which can be read again, and rows come one at a time: a file of any size
is read in constant memory. Line numbers are the spreadsheet's row numbers (the header is
line 1, a cell with line breaks is still one line).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cardcrm.common.errors import CardcrmError

#: Separators recognised on the header line; anything else reads as `,`.
DELIMITERS = ",;\t"
#: Rows checked or written together (one lookup query per chunk, not per row).
CHUNK_SIZE = 500
#: A list in one cell (multiple choice, e-mails, phones) is written joined by this.
LIST_SEPARATOR = "; "

# Spreadsheets run a cell that starts like a formula. Exports put a `'` before such cells
# (an old spreadsheet convention for "text") and imports take it off again, so round trips
# keep the value. Numbers and phone numbers ("-5", "+40 721 000 111") are left as they are.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?[0-9 .,()/-]*$")


class ImportRefused(CardcrmError):
    """The file has bad rows (or cannot be read); nothing was written."""

    status, title = 422, "Unprocessable content"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(
            f"{len(errors)} line(s) of the file cannot be imported; nothing was written.",
            errors=[error.as_dict() for error in errors],
        )
        self.row_errors = errors


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}


@dataclass(frozen=True)
class Record:
    """One row of the file: its line number and its cells by column (``None``: no such cell)."""

    line: int
    cells: dict[str, str]

    def has(self, column: str) -> bool:
        return column in self.cells

    def get(self, column: str) -> str:
        """The cell's text without surrounding blanks ("" when the column is absent)."""
        return self.cells.get(column, "").strip()

    def raw(self, column: str) -> str:
        """The cell's text as written (a title keeps its spaces)."""
        return self.cells.get(column, "")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


class CsvFile:
    """A CSV file that can be read more than once: bytes in memory or a file on disk."""

    def __init__(self, opener: Callable[[], IO[bytes]]) -> None:
        self._opener = opener

    @classmethod
    def from_bytes(cls, data: bytes) -> CsvFile:
        return cls(lambda: io.BytesIO(data))

    @classmethod
    def from_path(cls, path: str | Path) -> CsvFile:
        return cls(lambda: open(path, "rb"))  # noqa: SIM115 - closed by rows()

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Every row as (line number, cells), the header first; ``ImportRefused`` if unreadable."""
        with self._opener() as binary:
            lines = _decoded_lines(binary)
            first = next(lines, "")
            reader = csv.reader(itertools.chain([first], lines), delimiter=sniff_delimiter(first))
            line = 0
            try:
                for cells in reader:
                    line += 1
                    yield line, cells
            except csv.Error as error:
                raise ImportRefused(
                    [RowError(line + 1, f"Not readable as CSV: {error}.")]
                ) from error


def sniff_delimiter(header_line: str) -> str:
    """The separator of the file, guessed from its header line (Excel writes `;` in many
    countries); `,` when the line gives no clue (a single column)."""
    try:
        return csv.Sniffer().sniff(header_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _decoded_lines(binary: IO[bytes]) -> Iterator[str]:
    # Decoded line by line so a bad byte is reported with its line: a line break is one
    # byte in UTF-8 and never part of another character.
    for number, raw in enumerate(binary, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ImportRefused(
                [
                    RowError(
                        number,
                        "The file is not UTF-8 text; save it as 'CSV UTF-8' and import it again.",
                    )
                ]
            ) from error


# --- columns ----------------------------------------------------------------------------------


def fold_name(name: str) -> str:
    return " ".join(name.split()).casefold()


def read_header(
    cells: list[str], resolve: Callable[[str], str | None], expected: Iterable[str]
) -> tuple[list[str | None], list[str]]:
    """The column each header cell names, and the header's problems.

    ``resolve`` maps a header cell to a column name or ``None`` when it names none.
    """
    columns: list[str | None] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for cell in cells:
        name = cell.strip()
        if not name:
            columns.append(None)
            continue
        column = resolve(name)
        if column is None:
            problems.append(f"Unknown column {name!r}.")
        elif column in seen:
            problems.append(f"The columns {seen[column]!r} and {name!r} name the same thing.")
            column = None
        else:
            seen[column] = name
        columns.append(column)
    if any(problem.startswith("Unknown") for problem in problems):
        problems.append("The columns are: " + ", ".join(expected) + ".")
    return columns, problems


def records(
    rows: Iterator[tuple[int, list[str]]], columns: list[str | None]
) -> Iterator[Record | RowError]:
    """The rows after the header, as records; rows with no text at all are skipped."""
    width = len(columns)
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            yield RowError(
                line, f"The line has {len(cells)} cells where the header has {width} columns."
            )
            continue
        yield Record(
            line,
            {column: unescape(cell) for column, cell in zip(columns, cells, strict=True) if column},
        )


#: An id or version cell: digits only.
ID = re.compile(r"^[0-9]+$")


def claim_id(row: Record, kind: str, seen: dict[int, int], problems: list[str]) -> int | None:
    """The row's ``id`` cell as an id, noted as this row's; ``None`` (and a problem) if the cell
    is empty, not an id, or names a ``kind`` an earlier line of the file already changes."""
    raw = row.get("id")
    if not raw:
        return None
    if not ID.match(raw):
        problems.append(f"id: {raw!r} is not a {kind} id.")
        return None
    found = int(raw)
    if found in seen:
        problems.append(f"id: {kind} {found} is on line {seen[found]} already.")
        return None
    seen[found] = row.line
    return found


def check_version(row: Record, kind: str, item: Any, problems: list[str]) -> None:
    """A ``version`` cell must be the item's version now: else it changed since the export."""
    raw = row.get("version")
    if not raw:
        return
    if not ID.match(raw):
        problems.append(f"version: {raw!r} is not a version number.")
    elif int(raw) != item.version:
        problems.append(
            f"version: {kind} {item.id} changed since this file was exported (it was at "
            f"version {raw}, it is now at {item.version}); export it again, or empty the "
            "version cell to overwrite the change."
        )


def chunked(items: Iterator[Any], size: int = CHUNK_SIZE) -> Iterator[list[Any]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


# --- cells ------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """A cell's text safe to open in a spreadsheet (formula-like text gets a leading `'`)."""
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text):
        return "'" + text
    if _quoted(text):
        return "'" + text  # a value that really starts with `'=` or `''` keeps its quote
    return text


def unescape(text: str) -> str:
    """The value of a cell ``escape`` wrote."""
    return text[1:] if _quoted(text) else text


def _quoted(text: str) -> bool:
    return text.startswith("'") and text[1:].startswith((*FORMULA_START, "'"))


def split_list(text: str) -> list[str]:
    """A list cell: values separated by `;` (or `,`), blanks dropped."""
    return [part.strip() for part in re.split(r"[;,\n]", text) if part.strip()]


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
