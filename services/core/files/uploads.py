"""The file of an upload request: streamed to a temporary file as it arrives, bounded in size.

Requests are otherwise limited to 1 MiB (``MAX_CONTENT_LENGTH``). A view marked
``file_upload`` takes up to ``CARDCRM_MAX_UPLOAD_MB`` (plus room for the form around the
file): ``allow_file_uploads`` (run before every request, ahead of the web UI's CSRF check,
which may read the form) raises the request's limit and refuses at once a body whose
``Content-Length`` is over it. A body sent without a length (chunked) is cut at the limit as it
streams in (werkzeug's ``LimitedStream``), and a body longer than the length it announced is
read only up to that length, so no client can fill the disk. werkzeug spools the form's file to
a temporary file (in memory only below 500 KB); it is never held whole in memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, TypeVar

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Conflict, Invalid
from cardcrm.common.translate import gettext as _
from flask import current_app, request
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage as Upload
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth.models import User
from ..cards.service import get_card
from .models import CardFile
from .service import FileTooLarge, add_file, max_upload_bytes

#: Room for a form's other fields and its part headers around the file.
FORM_OVERHEAD = 64 * 1024
FIELD = "file"

View = TypeVar("View", bound=Callable[..., Any])


def file_upload(view: View) -> View:
    """Mark a view that takes a file (up to ``CARDCRM_MAX_UPLOAD_MB``)."""
    view.file_upload = True  # type: ignore[attr-defined]
    return view


def allow_file_uploads() -> None:
    """Before a request: an upload view takes bodies up to the upload limit."""
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "file_upload", False):
        return
    max_bytes = max_upload_bytes()
    request.max_content_length = max_bytes + FORM_OVERHEAD
    if request.content_length is not None and request.content_length > max_bytes + FORM_OVERHEAD:
        raise FileTooLarge.over(max_bytes)


def uploaded_file(field: str = FIELD) -> Upload:
    """The form's file: 413 over the limit, 422 when missing or empty."""
    max_bytes = max_upload_bytes()
    if request.mimetype != "multipart/form-data":
        raise Invalid(
            {
                field: [
                    _(
                        'Send the file as a multipart/form-data form with the field "%(field)s".',
                        field=field,
                    )
                ]
            }
        )
    try:
        upload = request.files.get(field)
    except RequestEntityTooLarge as error:  # a body without Content-Length, cut at the limit
        raise FileTooLarge.over(max_bytes) from error
    if upload is None or not upload.filename:
        raise Invalid({field: [_("Choose a file to upload.")]})
    upload.stream.seek(0, io.SEEK_END)
    size = upload.stream.tell()
    upload.stream.seek(0)
    if size > max_bytes:
        raise FileTooLarge.over(max_bytes)
    if size == 0:
        raise Invalid({field: [_("The file is empty.")]})
    return upload


def add_uploaded_file(session: Session, user: User | None, card_id: int) -> CardFile:
    """The request's file added to card ``card_id`` (the API's upload and the web page's).

    The card is checked first, so that a card the caller may not see (404) or one in the
    trash (409) refuses the request before its body is read.
    """
    card = get_card(session, card_id, viewer=user)
    if card.trashed:
        raise Conflict(_("The card is in the trash; restore it before adding files."))
    received = uploaded_file()
    with write_transaction(session):
        card = get_card(session, card_id, lock=True, viewer=user)
        return add_file(
            session,
            user,
            card,
            name=received.filename or "",
            content_type=received.content_type,
            stream=received.stream,
        )
