"""CSV files as HTTP responses (the API's and the web pages' downloads)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, stream_with_context

CSV_MIMETYPE = "text/csv"


def csv_response(pieces: Iterator[str], filename: str) -> Response:
    """A download of ``pieces``, streamed as they are made."""
    return Response(
        stream_with_context(pieces),
        mimetype=CSV_MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
