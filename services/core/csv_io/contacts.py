"""Contacts as CSV: the columns and the streamed export (keyset batches, constant memory)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ..contacts.models import Contact
from .parsing import LIST_SEPARATOR
from .writing import stream_rows

COLUMNS = (
    "id",
    "kind",
    "name",
    "emails",
    "phones",
    "company",
    "company_id",
    "position",
    "registration_number",
    "address",
    "website",
    "notes",
    "fields",
    "version",
)
EXPORT_BATCH_SIZE = 1000


def export_contacts(
    sessions: Callable[[], Session], *, bom: bool = False, batch_size: int | None = None
) -> Iterator[str]:
    """The CSV text of every contact, by id, one piece per batch (read as ``export_cards``)."""
    batch_size = batch_size or EXPORT_BATCH_SIZE
    company = aliased(Contact)
    query = (
        select(
            Contact.id,
            Contact.kind,
            Contact.name,
            Contact.emails,
            Contact.phones,
            company.name.label("company"),
            Contact.company_id,
            Contact.position,
            Contact.registration_number,
            Contact.address,
            Contact.website,
            Contact.notes,
            Contact.fields,
            Contact.version,
        )
        .outerjoin(company, company.id == Contact.company_id)
        .order_by(Contact.id)
        .limit(batch_size)
    )

    def cells(row: Any) -> list[Any]:
        return [
            row.id,
            row.kind,
            row.name,
            LIST_SEPARATOR.join(row.emails or []),
            LIST_SEPARATOR.join(row.phones or []),
            row.company or "",
            row.company_id or "",
            row.position or "",
            row.registration_number or "",
            row.address or "",
            row.website or "",
            row.notes or "",
            json.dumps(row.fields, ensure_ascii=False) if row.fields else "",
            row.version,
        ]

    return stream_rows(sessions, query, Contact.id, COLUMNS, cells, bom, batch_size)
