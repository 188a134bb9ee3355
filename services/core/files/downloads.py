"""A file's bytes as an HTTP download: streamed, always an attachment, never run as a page.

``Content-Disposition: attachment`` with the name in ASCII (``filename``) and in UTF-8
(``filename*``, RFC 6266 and RFC 5987), ``X-Content-Type-Options: nosniff``, a sandboxing
``Content-Security-Policy`` (should a browser show it anyway, it runs nothing and loads
nothing), a type a browser would render as a document (HTML, SVG, XML...) sent as
``application/octet-stream``, and the SHA-256 as ``ETag`` (``If-None-Match`` → 304).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import Response, request
from werkzeug.wsgi import wrap_file

from .models import CardFile
from .service import open_content, served_content_type
from .storage import PIECE

SANDBOX = "sandbox; default-src 'none'"
#: What the ASCII fallback name may not hold (RFC 6266's quoted-string, and no ``%``, which
#: some browsers decode there).
NOT_PLAIN = re.compile(r'[^\x20-\x7e]|["\\%;]')


def content_disposition(name: str) -> str:
    """``attachment`` with ``name`` for every browser: ASCII, and UTF-8 as ``filename*``."""
    decomposed = unicodedata.normalize("NFKD", name)  # "ă" → "a" + a combining breve
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = NOT_PLAIN.sub("_", plain).strip() or "file"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def download(file: CardFile) -> Response:
    """The response that streams ``file``'s bytes (304 when the client has them)."""
    headers = {
        "Content-Disposition": content_disposition(file.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SANDBOX,
        "ETag": f'"{file.sha256}"',
        # One person's data: not kept by shared caches or on a shared computer's disk.
        "Cache-Control": "private, no-store",
    }
    if request.if_none_match.contains(file.sha256):
        return Response(status=304, headers=headers)
    body = wrap_file(request.environ, open_content(file), PIECE)
    response = Response(
        body,
        mimetype=served_content_type(file.content_type),
        headers=headers,
        direct_passthrough=True,
    )
    response.content_length = file.size
    return response
