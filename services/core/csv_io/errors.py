"""What an import answers when it does not take a file (or all of it): bad rows (422), a file
over the limits (413), and a write stopped by a change made meanwhile (409)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cardcrm.common.errors import CardcrmError
from cardcrm.common.translate import gettext as _
from cardcrm.common.translate import lazy_gettext as _l

#: Bad rows listed in a refusal; the others are counted. A file of 100,000 bad rows answers
#: with the first ones rather than a 10 MB document kept in memory.
MAX_LISTED_ERRORS = 1000


@dataclass(frozen=True)
class RowError:
    """A bad row: the spreadsheet's row number (the header is 1) and what is wrong, each
    problem prefixed by its column (``title: a card needs a title.``)."""

    line: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}


class ImportRefused(CardcrmError):
    """The file has bad rows (or cannot be read); nothing was written."""

    status, title = 422, _l("Unprocessable content")

    def __init__(self, errors: list[RowError], total: int | None = None) -> None:
        total = max(total or 0, len(errors))
        listed = sorted(errors, key=lambda error: error.line)[:MAX_LISTED_ERRORS]
        detail = _(
            "%(total)s line(s) of the file cannot be imported; nothing was written.", total=total
        )
        if total > len(listed):
            detail = _(
                "%(total)s line(s) of the file cannot be imported; nothing was written. "
                "The first %(listed)s are listed.",
                total=total,
                listed=len(listed),
            )
        super().__init__(detail, errors=[error.as_dict() for error in listed], error_count=total)
        self.row_errors = listed
        self.total = total


class ImportTooLarge(CardcrmError):
    """The file is over the size or row limit an import over HTTP takes; nothing was written."""

    status, title = 413, _l("Content too large")

    @classmethod
    def bytes_over(cls, max_bytes: int) -> ImportTooLarge:
        return cls(
            _(
                "The file is over the import limit of %(mib)s MiB (CARDCRM_CSV_MAX_MB); split it "
                "into smaller files, or ask an administrator to import it with `cardcrm import` "
                "on the server. Nothing was written.",
                mib=_mebibytes(max_bytes),
            ),
            max_bytes=max_bytes,
        )

    @classmethod
    def rows_over(cls, max_rows: int) -> ImportTooLarge:
        return cls(
            _(
                "The file has more than %(rows)s rows, the import limit (CARDCRM_CSV_MAX_ROWS); "
                "split it into smaller files, or ask an administrator to import it with "
                "`cardcrm import` on the server. Nothing was written.",
                rows=format(max_rows, ","),
            ),
            max_rows=max_rows,
        )


class ImportInterrupted(CardcrmError):
    """Writing stopped at a batch: something it names changed after the file was checked.

    The batches before it stay written (each is its own transaction); ``line`` is the first
    row not written, ``created`` and ``updated`` what was.
    """

    status, title = 409, _l("Conflict")

    def __init__(self, line: int, reason: str, created: int, updated: int) -> None:
        if created or updated:
            detail = _(
                "Line %(line)s: %(reason)s The rows before line %(line)s were imported "
                "(%(created)s created, %(updated)s updated); nothing from that line on was "
                "written. Import the rest of the file again (export first to get the current "
                "versions).",
                line=line,
                reason=reason,
                created=created,
                updated=updated,
            )
        else:
            detail = _(
                "Line %(line)s: %(reason)s Nothing was written. Import the rest of the file "
                "again (export first to get the current versions).",
                line=line,
                reason=reason,
            )
        super().__init__(
            detail,
            errors=[RowError(line, reason).as_dict()],
            line=line,
            created=created,
            updated=updated,
        )
        self.line, self.reason = line, reason
        self.created, self.updated = created, updated


def _mebibytes(size: int) -> str:
    return f"{size / 1024 / 1024:g}"
