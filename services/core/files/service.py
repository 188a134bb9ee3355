"""Rules for card files: add (store the bytes once per content), list, read, remove.

Access is the card's (``core/access.py``): a file of a card the caller may not see is a 404.
Files of a trashed card may still be read by whoever may see the card there, but none may be
added or removed until it is restored (409). A file may be removed by the user who uploaded
it, the card's owner or an admin (403 for other users who see the card).
Rows and events are written in one transaction; bytes go only after it commits
(``contents.py``).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import tempfile
import unicodedata
from datetime import datetime
from typing import IO, Any, BinaryIO

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import CardcrmError, Conflict, Forbidden, NotFound
from cardcrm.common.events import EventType
from cardcrm.common.text import LINE_BREAKING
from cardcrm.common.timeutil import utcnow
from cardcrm.common.translate import gettext as _
from cardcrm.common.translate import lazy_gettext as _l
from flask import current_app, has_app_context
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..cards.history import record_history
from ..cards.models import Card
from ..events import record_event
from .contents import lock_content, release_contents
from .models import NAME_LENGTH, CardFile
from .storage import PIECE, get_storage

MEBIBYTE = 1024 * 1024
DEFAULT_MAX_UPLOAD_MB = 25
#: Bidirectional controls: they make "txt.exe" read as "exe.txt" (removed from names).
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
OCTET_STREAM = "application/octet-stream"
#: Types a browser renders as a document that runs scripts: downloaded as plain bytes instead.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/ecmascript",
        "application/ecmascript",
        "multipart/x-mixed-replace",
        "application/x-shockwave-flash",
    }
)


class FileTooLarge(CardcrmError):
    """The file is over ``CARDCRM_MAX_UPLOAD_MB``; nothing was stored."""

    status, title = 413, _l("Content too large")

    @classmethod
    def over(cls, max_bytes: int) -> FileTooLarge:
        return cls(
            _(
                "The file is over the upload limit of %(limit)s (CARDCRM_MAX_UPLOAD_MB). "
                "Nothing was stored.",
                limit=_limit_text(max_bytes),
            ),
            max_bytes=max_bytes,
        )


def max_upload_bytes() -> int:
    """The largest file taken (``MAX_UPLOAD_BYTES`` of the app, from CARDCRM_MAX_UPLOAD_MB)."""
    configured = current_app.config.get("MAX_UPLOAD_BYTES") if has_app_context() else None
    return int(configured or DEFAULT_MAX_UPLOAD_MB * MEBIBYTE)


def file_data(file: CardFile) -> dict[str, Any]:
    """The file's JSON, as ``GET /api/v1/files/{id}`` shows it."""
    from .schemas import FileSchema

    return FileSchema().dump(file)


def event_data(file: CardFile, card: Card) -> dict[str, Any]:
    """An event's payload: the file, and what a reader needs to apply the card's access rule."""
    return {**file_data(file), "product_id": card.product_id, "owner_id": card.owner_id}


def clean_name(raw: str | None) -> str:
    """A file name safe to keep and show: without any folder (``C:\\x\\a.txt`` is ``a.txt``),
    control and bidirectional characters, and at most 255 characters (the extension kept)."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = BIDI_CONTROLS.sub("", LINE_BREAKING.sub("", name))
    name = unicodedata.normalize("NFC", name).strip()
    if name in ("", ".", ".."):
        return "file"
    if len(name) > NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= 16:
            name = stem[: NAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:NAME_LENGTH]
    return name


def clean_content_type(given: str | None, name: str) -> str:
    """The media type kept for a file: the one given (without parameters), else a guess from
    its name, else ``application/octet-stream``."""
    essence = (given or "").split(";", 1)[0].strip().lower()
    if MEDIA_TYPE.match(essence) and essence != OCTET_STREAM:
        return essence
    guessed = mimetypes.guess_type(name, strict=False)[0]
    return guessed.lower() if guessed and MEDIA_TYPE.match(guessed.lower()) else OCTET_STREAM


def served_content_type(content_type: str) -> str:
    """The ``Content-Type`` of a download: never one a browser would run as a document."""
    if (
        content_type in ACTIVE_TYPES
        or content_type.endswith(("+xml", "/xml"))
        or "html" in content_type
        or "script" in content_type
    ):
        return OCTET_STREAM
    return content_type


def add_file(
    session: Session,
    actor: User | None,
    card: Card,
    *,
    name: str,
    content_type: str | None,
    stream: IO[bytes],
) -> CardFile:
    """Store ``stream``'s bytes (once per content) and add them to ``card`` as a file.

    Runs in the CALLER's transaction (it does not commit; wrap it in ``write_transaction``,
    with the card read there, ideally locked). Writes the row, a ``file.added`` history row and
    event, and moves the card's ``updated_at`` (not its version: a file is no edit of the
    card's fields). Raises ``Conflict`` (409) for a trashed card and ``FileTooLarge`` (413)
    over ``CARDCRM_MAX_UPLOAD_MB``. If the transaction rolls back, bytes already stored stay
    until the orphan sweep (or the next upload of the same content names them).
    """
    if card.trashed:
        raise Conflict(_("The card is in the trash; restore it before adding files."))
    limit = max_upload_bytes()
    spool, sha256, size = _measure(stream, limit)
    try:
        name = clean_name(name)
        lock_content(session, sha256)  # held until the row commits: see contents.py
        storage = get_storage()
        if not storage.exists(sha256):
            stored, stored_size = storage.put(spool)
            if (stored, stored_size) != (sha256, size):
                raise RuntimeError(f"the file storage stored {stored} for {sha256}")
    finally:
        if spool is not stream:
            spool.close()
    file = CardFile(
        card_id=card.id,
        name=name,
        size=size,
        content_type=clean_content_type(content_type, name),
        sha256=sha256,
        uploaded_by=actor.id if actor else None,
        created_at=utcnow(),
    )
    session.add(file)
    session.flush()
    _touch(session, card, file.created_at)
    record_history(session, card, EventType.FILE_ADDED, actor, {"file": _summary(file)})
    record_event(session, EventType.FILE_ADDED, event_data(file, card), actor=actor)
    return file


def get_file(session: Session, file_id: int, viewer: User | None = None) -> CardFile:
    """The file; with ``viewer``, only if that user may see its card (else 404, as if none)."""
    from ..cards.service import get_card

    file = session.get(CardFile, file_id)
    if file is None:
        raise NotFound(_("No file %(id)s.", id=file_id))
    if viewer is not None:
        try:
            get_card(session, file.card_id, viewer=viewer)
        except NotFound:
            raise NotFound(_("No file %(id)s.", id=file_id)) from None
    return file


def list_files(
    session: Session, card_id: int, after: tuple[datetime, int] | None, limit: int
) -> list[CardFile]:
    """A card's files, newest first (``after``: the ``(created_at, id)`` of the last one seen)."""
    query = select(CardFile).where(CardFile.card_id == card_id)
    if after is not None:
        at, file_id = after
        query = query.where(
            or_(CardFile.created_at < at, and_(CardFile.created_at == at, CardFile.id < file_id))
        )
    order = (CardFile.created_at.desc(), CardFile.id.desc())
    return list(session.scalars(query.order_by(*order).limit(limit)))


def may_remove(actor: User | None, file: CardFile, card: Card) -> bool:
    """Whether ``actor`` may remove the file: its uploader, the card's owner, an admin."""
    if actor is None or actor.is_admin:
        return True
    return actor.id in (file.uploaded_by, card.owner_id)


def remove_file(session: Session, actor: User | None, file_id: int) -> None:
    """Remove a file from its card; its bytes go too once no other file names them."""
    from ..cards.service import get_card

    with write_transaction(session):
        file = get_file(session, file_id, viewer=actor)
        card = get_card(session, file.card_id, lock=True)
        if card.trashed:
            raise Conflict(_("The card is in the trash; restore it before removing files."))
        if not may_remove(actor, file, card):
            raise Forbidden(
                _(
                    "Only the user who uploaded the file, the card's owner or an admin "
                    "may remove it."
                )
            )
        data = event_data(file, card)
        sha256 = file.sha256
        session.delete(file)
        session.flush()
        _touch(session, card, utcnow())
        record_history(session, card, EventType.FILE_REMOVED, actor, {"file": _summary(file)})
        record_event(session, EventType.FILE_REMOVED, data, actor=actor)
    release_contents(session, get_storage(), [sha256])


def open_content(file: CardFile) -> BinaryIO:
    """The file's bytes, to be read in pieces (``NotFound`` if the storage lost them)."""
    try:
        return get_storage().open(file.sha256)
    except FileNotFoundError:
        raise NotFound(
            _("The content of file %(id)s is missing from the storage.", id=file.id)
        ) from None


# --- helpers ----------------------------------------------------------------------------------


def _limit_text(max_bytes: int) -> str:
    if max_bytes % MEBIBYTE == 0:
        return f"{max_bytes // MEBIBYTE} MiB"
    return f"{max_bytes / MEBIBYTE:.1f} MiB" if max_bytes >= MEBIBYTE else f"{max_bytes:,} bytes"


def _summary(file: CardFile) -> dict[str, Any]:
    return {"id": file.id, "name": file.name, "size": file.size, "sha256": file.sha256}


def _touch(session: Session, card: Card, at: datetime) -> None:
    # A statement rather than the ORM: the card's version stays (its edit form stays current).
    session.execute(
        update(Card)
        .where(Card.id == card.id)
        .values(updated_at=at)
        .execution_options(synchronize_session="fetch")
    )


def _measure(stream: IO[bytes], limit: int) -> tuple[IO[bytes], str, int]:
    """Hash ``stream`` before anything is stored (the content's lock is keyed by its hash).

    A seekable stream is read and rewound; another is copied to a temporary file as it is
    read. ``FileTooLarge`` as soon as it passes ``limit``."""
    seekable = False
    try:
        seekable = stream.seekable()
    except (AttributeError, ValueError):
        seekable = False
    spool: IO[bytes] = stream
    start = stream.tell() if seekable else 0
    if not seekable:
        spool = tempfile.SpooledTemporaryFile(max_size=MEBIBYTE)  # noqa: SIM115 - returned
    digest, size = hashlib.sha256(), 0
    try:
        while piece := stream.read(PIECE):
            size += len(piece)
            if size > limit:
                raise FileTooLarge.over(limit)
            digest.update(piece)
            if spool is not stream:
                spool.write(piece)
        spool.seek(start)
    except BaseException:
        if spool is not stream:
            spool.close()
        raise
    return spool, digest.hexdigest(), size
