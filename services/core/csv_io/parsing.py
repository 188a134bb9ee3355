"""Reading CSV the way spreadsheets write it: UTF-8 with or without a BOM, `,` `;` or tab.

A file is opened through ``CsvFile`` and its rows come one at a time, so a file of any size is
read in constant memory. Line numbers are the spreadsheet's row numbers (the header is line 1,
a cell with line breaks is still one line). Cells go through the import's rules for every
column here: no control characters, and the quote an export put before formula-like text
taken off (``formulas``).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cardcrm.common.text import CONTROL_CHARACTERS, control_character_error
from cardcrm.common.translate import gettext as _

from .errors import ImportRefused, ImportTooLarge, RowError
from .formulas import unescape

#: Separators recognised on the header line; anything else reads as `,`.
DELIMITERS = ",;\t"
#: Rows checked together (one lookup query per chunk, not per row).
CHUNK_SIZE = 500
#: A list in one cell (multiple choice, e-mails, phones) is written joined by this.
LIST_SEPARATOR = "; "


class Record:
    """One row of the file: its line number and its cells by column (``None``: no such cell).

    A plain class with slots, not a dataclass: an import makes one per row, and a frozen
    dataclass's ``__init__`` costs several times as much.
    """

    __slots__ = ("cells", "line")

    def __init__(self, line: int, cells: dict[str, str]) -> None:
        self.line = line
        self.cells = cells

    def __repr__(self) -> str:
        return f"Record(line={self.line!r}, cells={self.cells!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (self.line, self.cells) == (other.line, other.cells)

    __hash__ = None  # type: ignore[assignment]  # mutable cells

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
    """A CSV file that can be read more than once: bytes, a file on disk, or a seekable file
    object (an upload spooled to disk), read one line at a time."""

    def __init__(self, opener: Callable[[], AbstractContextManager[IO[bytes]]]) -> None:
        self._opener = opener

    @classmethod
    def from_bytes(cls, data: bytes) -> CsvFile:
        return cls(lambda: nullcontext(io.BytesIO(data)))

    @classmethod
    def from_path(cls, path: str | Path) -> CsvFile:
        return cls(lambda: open(path, "rb"))  # noqa: SIM115 - closed by rows()

    @classmethod
    def from_stream(cls, stream: IO[bytes]) -> CsvFile:
        """Read ``stream`` from its start each time (the caller closes it)."""

        @contextmanager
        def rewound() -> Iterator[IO[bytes]]:
            stream.seek(0)
            yield stream

        return cls(rewound)

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
                    [RowError(line + 1, _("Not readable as CSV: %(error)s.", error=error))]
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
                        _(
                            "The file is not UTF-8 text; save it as 'CSV UTF-8' and import it "
                            "again."
                        ),
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
    unknown = False
    seen: dict[str, str] = {}
    for cell in cells:
        name = cell.strip()
        if not name:
            columns.append(None)
            continue
        column = resolve(name)
        if column is None:
            problems.append(_("Unknown column %(name)s.", name=repr(name)))
            unknown = True
        elif column in seen:
            problems.append(
                _(
                    "The columns %(first)s and %(second)s name the same thing.",
                    first=repr(seen[column]),
                    second=repr(name),
                )
            )
            column = None
        else:
            seen[column] = name
        columns.append(column)
    if unknown:
        problems.append(_("The columns are: %(columns)s.", columns=", ".join(expected)))
    return columns, problems


def records(
    rows: Iterator[tuple[int, list[str]]],
    columns: list[str | None],
    names: list[str],
    max_rows: int | None = None,
) -> Iterator[Record | RowError]:
    """The rows after the header, as records; rows with no text at all are skipped.

    A cell holding a control character is a bad row (``names``: the header as written, to
    name the column); more than ``max_rows`` rows raise ``ImportTooLarge`` at once.
    """
    width = len(columns)
    used = [(index, column) for index, column in enumerate(columns) if column]
    count = 0
    for line, cells in rows:
        joined = "".join(cells)
        if not joined.strip():  # no cell holds anything but blanks
            continue
        count += 1
        if max_rows is not None and count > max_rows:
            raise ImportTooLarge.rows_over(max_rows)
        if len(cells) != width:
            yield RowError(
                line,
                _(
                    "The line has %(cells)s cells where the header has %(width)s columns.",
                    cells=len(cells),
                    width=width,
                ),
            )
            continue
        if CONTROL_CHARACTERS.search(joined):
            yield RowError(line, _control_characters(cells, columns, names))
            continue
        # Only a cell starting with a quote can be escaped (``unescape``): most are not.
        yield Record(
            line,
            {
                column: unescape(cells[index]) if cells[index][:1] == "'" else cells[index]
                for index, column in used
            },
        )


def _control_characters(cells: list[str], columns: list[str | None], names: list[str]) -> str:
    return (
        " ".join(
            f"{name}: {control_character_error(cell)}"
            for cell, column, name in zip(cells, columns, names, strict=True)
            if column and control_character_error(cell)
        )
        or "The line holds a control character in a column the import ignores; remove it."
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
        problems.append(_("id: %(raw)s is not a %(kind)s id.", raw=repr(raw), kind=kind))
        return None
    found = int(raw)
    if found in seen:
        problems.append(
            _(
                "id: %(kind)s %(id)s is on line %(line)s already.",
                kind=kind,
                id=found,
                line=seen[found],
            )
        )
        return None
    seen[found] = row.line
    return found


def check_version(row: Record, kind: str, item: Any, problems: list[str]) -> None:
    """A ``version`` cell must be the item's version now: else it changed since the export."""
    raw = row.get("version")
    if not raw:
        return
    if not ID.match(raw):
        problems.append(_("version: %(raw)s is not a version number.", raw=repr(raw)))
    elif int(raw) != item.version:
        problems.append(
            _(
                "version: %(kind)s %(id)s changed since this file was exported (it was at "
                "version %(raw)s, it is now at %(version)s); export it again, or empty the "
                "version cell to overwrite the change.",
                kind=kind,
                id=item.id,
                raw=raw,
                version=item.version,
            )
        )


def chunked(items: Iterator[Any], size: int = CHUNK_SIZE) -> Iterator[list[Any]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


# --- cells ------------------------------------------------------------------------------------


def split_list(text: str) -> list[str]:
    """A list cell: values separated by `;` (or `,`), blanks dropped."""
    return [part.strip() for part in re.split(r"[;,\n]", text) if part.strip()]
