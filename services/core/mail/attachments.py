"""An e-mail's attachments as the card's files, through the files feature's ``add_file``."""

from __future__ import annotations

from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cards.models import Card
from ..files.models import CardFile
from ..files.service import add_file, file_data


def add(session: Session, card: Card, name: str, content_type: str, stream: IO[bytes]) -> int:
    """Store one attachment as a file of ``card`` (in the caller's transaction); its id.

    The file has no uploader (``uploaded_by`` null): it came by mail."""
    row = add_file(session, None, card, name=name, content_type=content_type, stream=stream)
    return row.id


def files_data(session: Session, file_ids: list[Any]) -> list[dict[str, Any]]:
    """The JSON of the files among ``file_ids`` that still exist, in that order."""
    if not file_ids:
        return []
    wanted = [int(file_id) for file_id in file_ids]
    rows = {row.id: row for row in session.scalars(select(CardFile).where(CardFile.id.in_(wanted)))}
    return [file_data(rows[file_id]) for file_id in wanted if file_id in rows]
