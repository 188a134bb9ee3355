"""HTTP API of card files: upload (multipart), list, read, download, remove."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.api import ApiBlueprint, Page, Reply
from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.translate import gettext as _
from flask import Response

from ..auth.service import current_user
from ..cards.service import get_card
from . import service, timeline  # noqa: F401 - the timeline's ``file`` source registers itself
from .downloads import download
from .schemas import FileListArgsSchema, FileSchema
from .uploads import add_uploaded_file, allow_file_uploads, file_upload

bp = ApiBlueprint("files", __name__, tag="Files")
bp.before_app_request(allow_file_uploads)

UPLOAD = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    }
}
BYTES = {"type": "string", "format": "binary", "description": "The file's bytes, streamed."}


@bp.operation(
    "/cards/<int:card_id>/files",
    "POST",
    response=FileSchema,
    status=201,
    errors=(404, 409, 413, 422),
    raw_body=UPLOAD,
)
@file_upload
def upload_file(card_id: int) -> Any:
    """Upload a file to a card (multipart/form-data, field ``file``).

    Up to ``CARDCRM_MAX_UPLOAD_MB`` MiB (default 25; over it: 413). The name loses any folder,
    control characters, and what passes 255 characters; the same bytes are stored once however
    often they are uploaded. A card in the trash takes no files (409).
    """
    file = add_uploaded_file(get_session(), current_user(), card_id)
    return Reply(file, headers={"Location": f"/api/v1/files/{file.id}"})


@bp.operation(
    "/cards/<int:card_id>/files",
    query=FileListArgsSchema,
    response=FileSchema,
    paginated=True,
    errors=(404, 422),
)
def list_files(card_id: int, args: dict[str, Any]) -> Page:
    """A card's files, newest first (also a trashed card's, for those who may see it)."""
    session = get_session()
    get_card(session, card_id, viewer=current_user())
    position = decode_cursor(args.get("cursor"))
    after = None
    if position is not None:
        try:
            after = (datetime.fromisoformat(position["at"]), int(position["id"]))
        except (KeyError, TypeError, ValueError) as error:
            raise Invalid({"cursor": [_("Not a cursor this API gave out.")]}) from error
    limit = args["limit"]
    files = service.list_files(session, card_id, after, limit + 1)
    cursor = None
    if len(files) > limit:
        files = files[:limit]
        cursor = encode_cursor({"at": files[-1].created_at.isoformat(), "id": files[-1].id})
    return Page(files, cursor)


@bp.operation("/files/<int:file_id>", response=FileSchema, errors=(404,))
def get_file(file_id: int) -> Any:
    """Read a file's description (its bytes: ``/files/{id}/content``)."""
    return service.get_file(get_session(), file_id, viewer=current_user())


@bp.operation(
    "/files/<int:file_id>/content",
    raw_response=BYTES,
    media_type="*/*",  # the file's own type (application/octet-stream for HTML, SVG, XML...)
    errors=(404,),
    other_responses={304: "The client's copy (If-None-Match: the ETag) is current."},
)
def file_content(file_id: int) -> Response:
    """Download a file's bytes, streamed, as an attachment.

    ``Content-Disposition: attachment`` (the name as ``filename`` and UTF-8 ``filename*``),
    ``X-Content-Type-Options: nosniff``, ``Content-Security-Policy: sandbox``, and the SHA-256
    as ``ETag``. Types a browser would render as a page (HTML, SVG, XML...) come as
    ``application/octet-stream``.
    """
    return download(service.get_file(get_session(), file_id, viewer=current_user()))


@bp.operation("/files/<int:file_id>", "DELETE", status=204, errors=(403, 404, 409))
def delete_file(file_id: int) -> None:
    """Remove a file from its card (the uploader, the card's owner or an admin; else 403).

    Its bytes are deleted too once no other file names the same content. A card in the trash
    keeps its files (409) until it is restored or purged.
    """
    service.remove_file(get_session(), current_user(), file_id)
