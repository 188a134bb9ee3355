"""HTTP API of CSV files: cards and contacts exported (streamed) and imported (checked whole,
then written in batches; a file with a bad row writes nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cardcrm.common.api import ApiBlueprint
from cardcrm.common.db import get_db, get_session
from cardcrm.common.errors import Invalid, NotFound
from cardcrm.common.translate import gettext as _
from flask import Response, request

from ..access import scope_of
from ..auth.service import current_user
from ..cards.queries import FIELD_FILTER_DOC, field_filters_of
from ..products.service import get_product
from .card_import import import_cards
from .cards import export_cards, export_conditions
from .contact_import import import_contacts
from .contacts import export_contacts
from .parsing import CsvFile, ImportResult
from .responses import CSV_MIMETYPE, csv_response
from .schemas import (
    CardExportArgsSchema,
    ContactImportArgsSchema,
    ExportArgsSchema,
    ImportArgsSchema,
    ImportResultSchema,
)
from .uploads import allow_csv_files, csv_upload, limits, uploaded_file

bp = ApiBlueprint("csv_io", __name__, tag="Import and export")
bp.before_app_request(allow_csv_files)

CSV_TEXT = {"type": "string", "description": "CSV text (text/csv; charset=utf-8), streamed."}
#: What an import reads: the file as the body, or as a form's file field.
CSV_UPLOAD = {
    CSV_MIMETYPE: {"schema": {"type": "string", "description": "The CSV file (UTF-8)."}},
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    },
}


@bp.operation(
    "/products/<int:product_id>/cards.csv",
    query=CardExportArgsSchema,
    raw_response=CSV_TEXT,
    media_type=CSV_MIMETYPE,
    errors=(404, 422),
    extra_query=FIELD_FILTER_DOC,
)
def export_product_cards(product_id: int, args: dict[str, Any]) -> Response:
    """Download a product's cards as CSV, streamed (the cards the caller may see).

    Columns: id, title, status, status_group, owner (e-mail), contact (the primary contact's
    name), contact_id, one ``field:<key>`` column per custom field, created_at, updated_at,
    next_task_due and version. Takes the card list's filters.
    """
    session = get_session()
    scope = scope_of(session, current_user())
    if not scope.sees_product(product_id):
        raise NotFound(_("No product %(id)s.", id=product_id))
    product = get_product(session, product_id)
    # Filters are checked here, before the first byte goes out: a bad one is still a 422.
    conditions = export_conditions(product, scope, args, field_filters_of(request.args))
    pieces = export_cards(get_db().session, product, conditions, bom=args["bom"])
    return csv_response(pieces, f"{product.slug}-cards.csv")


@bp.operation(
    "/products/<int:product_id>/cards.csv",
    "POST",
    query=ImportArgsSchema,
    response=ImportResultSchema,
    raw_body=CSV_UPLOAD,
    errors=(404, 409, 413, 422),
)
@csv_upload
def import_product_cards(product_id: int, args: dict[str, Any]) -> ImportResult:
    """Import a product's cards from the CSV body: checked whole, then written.

    A row with the ``id`` of one of the product's cards updates it; a row without one creates
    a card. The body is the file (``text/csv``, UTF-8 with or without BOM, `,` or `;`), or a
    form's file field, up to ``CARDCRM_CSV_MAX_MB`` and ``CARDCRM_CSV_MAX_ROWS`` rows (413
    above). A file with a bad row writes nothing: the 422 lists the bad rows as ``{"line",
    "message"}`` (the header is line 1; the first 1,000, ``error_count`` has them all). Good
    files are written in batches; a 409 says where the import stopped when something it
    names changed meanwhile. ``?dry_run=true`` checks and counts without writing.
    """
    with _source() as source:
        return import_cards(
            get_session(),
            current_user(),
            product_id,
            source,
            dry_run=args["dry_run"],
            max_rows=limits().max_rows,
        )


@bp.operation(
    "/contacts.csv", query=ExportArgsSchema, raw_response=CSV_TEXT, media_type=CSV_MIMETYPE
)
def export_all_contacts(args: dict[str, Any]) -> Response:
    """Download every contact as CSV, streamed.

    Columns: id, kind, name, emails, phones, company, company_id, position,
    registration_number, address, website, notes, fields (JSON) and version.
    """
    return csv_response(export_contacts(get_db().session, bom=args["bom"]), "contacts.csv")


@bp.operation(
    "/contacts.csv",
    "POST",
    query=ContactImportArgsSchema,
    response=ImportResultSchema,
    raw_body=CSV_UPLOAD,
    errors=(409, 413, 422),
)
@csv_upload
def import_all_contacts(args: dict[str, Any]) -> ImportResult:
    """Import contacts from the CSV body, as cards are imported (same limits and answers).

    A row with an ``id`` updates that contact. A new row sharing an e-mail or phone with a
    contact (or an earlier line) is a bad row unless ``?allow_duplicate=true``.
    """
    with _source() as source:
        return import_contacts(
            get_session(),
            current_user(),
            source,
            dry_run=args["dry_run"],
            allow_duplicate=args["allow_duplicate"],
            max_rows=limits().max_rows,
        )


@contextmanager
def _source() -> Iterator[CsvFile]:
    stream = uploaded_file()
    if stream is None:
        raise Invalid(_("Send the CSV file as the body, or as a form's file field."))
    with stream:
        yield CsvFile.from_stream(stream)
