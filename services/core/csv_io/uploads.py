"""The file of an import request, spooled to disk as it arrives and bounded in size.

Requests are otherwise limited to 1 MiB (``MAX_CONTENT_LENGTH``). A view marked ``csv_upload``
takes up to ``CARDCRM_CSV_MAX_MB`` instead: ``allow_csv_files`` (run before every request,
ahead of the web UI's CSRF check, which reads the form) raises the request's limit, and
refuses at once a body whose ``Content-Length`` is already over it. The file is then read from
a temporary file (a form's file, as werkzeug spools it, or the body copied in pieces), never
held whole in memory.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Callable
from typing import IO, Any, TypeVar

from cardcrm.common.idempotency import HEADER as IDEMPOTENCY_HEADER
from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import ImportTooLarge
from .limits import CsvLimits

#: Room for a form's other fields and its part headers around the file.
FORM_OVERHEAD = 64 * 1024
#: Bodies up to this size stay in memory; larger ones go to a temporary file.
IN_MEMORY = 1024 * 1024
PIECE = 64 * 1024

View = TypeVar("View", bound=Callable[..., Any])


def csv_upload(view: View) -> View:
    """Mark a view that takes a CSV file (up to ``CARDCRM_CSV_MAX_MB``)."""
    view.csv_upload = True  # type: ignore[attr-defined]
    return view


def limits() -> CsvLimits:
    return CsvLimits.of(current_app.config)


def allow_csv_files() -> None:
    """Before a request: a CSV upload view takes files up to the import limit."""
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "csv_upload", False):
        return
    max_bytes = limits().max_bytes
    request.max_content_length = max_bytes + FORM_OVERHEAD
    if request.content_length is not None and request.content_length > max_bytes + (
        FORM_OVERHEAD if request.mimetype == "multipart/form-data" else 0
    ):
        raise ImportTooLarge.bytes_over(max_bytes)


def uploaded_file() -> IO[bytes] | None:
    """The CSV of an API request: the file of a form (``curl -F file=@cards.csv``), or the
    body itself; ``None`` when a form has no file."""
    try:
        if request.mimetype == "multipart/form-data":
            upload = next(iter(request.files.values()), None)
            return None if upload is None else _bounded(upload.stream)
        if request.headers.get(IDEMPOTENCY_HEADER) is not None:
            # The idempotency check has read the body already, to fingerprint it.
            return _bounded(io.BytesIO(request.get_data(cache=True)))
        spool = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 - the caller's
        shutil.copyfileobj(request.stream, spool, PIECE)
        return _bounded(spool)
    except RequestEntityTooLarge as error:  # a body without Content-Length, cut at the limit
        raise ImportTooLarge.bytes_over(limits().max_bytes) from error


def form_file(name: str = "file") -> IO[bytes] | None:
    """The CSV of a web form's file field (``None`` when none was chosen)."""
    try:
        upload = request.files.get(name)
    except RequestEntityTooLarge as error:
        raise ImportTooLarge.bytes_over(limits().max_bytes) from error
    return None if upload is None else _bounded(upload.stream)


def _bounded(stream: IO[bytes]) -> IO[bytes]:
    stream.seek(0, io.SEEK_END)
    if stream.tell() > limits().max_bytes:
        raise ImportTooLarge.bytes_over(limits().max_bytes)
    stream.seek(0)
    return stream
