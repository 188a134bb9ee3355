"""CSV in the web UI: download a product's cards (with the page's filters) and the contacts,
and import either from an uploaded file (checked whole, then written; a file with a bad row
writes nothing; a dry run only checks and counts).

The same functions as the API's /products/<id>/cards.csv and /contacts.csv do the work.
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_db, get_session
from cardcrm.common.errors import Invalid, NotFound
from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from marshmallow import EXCLUDE, ValidationError

from ..access import scope_of
from ..cards.queries import field_filters_of
from ..csv_io.card_import import import_cards
from ..csv_io.cards import export_cards, export_conditions
from ..csv_io.contact_import import import_contacts
from ..csv_io.contacts import export_contacts
from ..csv_io.errors import ImportInterrupted, ImportRefused, ImportTooLarge, RowError
from ..csv_io.parsing import CsvFile
from ..csv_io.responses import csv_response
from ..csv_io.schemas import CardExportArgsSchema
from ..csv_io.uploads import csv_upload, form_file, limits
from ..products.service import get_product
from .forms import messages_of
from .security import current_user

bp = Blueprint("csv_pages", __name__)

NO_FILE = _l("Choose a CSV file to import.")


@bp.get("/products/<int:product_id>/export.csv")
def export_product(product_id: int) -> Any:
    session = get_session()
    scope = scope_of(session, current_user())
    if not scope.sees_product(product_id):
        raise NotFound(f"No product {product_id}.")
    product = get_product(session, product_id)
    raw = {key: value for key, value in request.args.items() if value}
    try:
        args = CardExportArgsSchema(unknown=EXCLUDE).load(raw)
    except ValidationError as error:
        raise Invalid(messages_of(error)) from error
    conditions = export_conditions(product, scope, args, field_filters_of(request.args))
    pieces = export_cards(get_db().session, product, conditions, bom=args["bom"])
    return csv_response(pieces, f"{product.slug}-cards.csv")


@bp.get("/contacts/export.csv")
def export_all_contacts() -> Any:
    bom = request.args.get("bom") in ("1", "true", "on")
    return csv_response(export_contacts(get_db().session, bom=bom), "contacts.csv")


@bp.get("/products/<int:product_id>/import")
def product_import(product_id: int) -> Any:
    product = get_product(get_session(), product_id, viewer=current_user())
    return render_template(
        "products/import.html", product=product, result=None, rows=[], limits=limits()
    )


@bp.post("/products/<int:product_id>/import")
@csv_upload
def product_import_post(product_id: int) -> Any:
    session = get_session()
    product = get_product(session, product_id, viewer=current_user())
    dry_run = request.form.get("dry_run") is not None

    def run(source: CsvFile) -> Any:
        return import_cards(
            session,
            current_user(),
            product.id,
            source,
            dry_run=dry_run,
            max_rows=limits().max_rows,
        )

    result, rows, status = _import(run)
    page = render_template(
        "products/import.html",
        product=product,
        result=result,
        rows=rows,
        dry_run=dry_run,
        interrupted=status == ImportInterrupted.status,
        no_file=str(NO_FILE),
        limits=limits(),
    )
    return page, status


@bp.get("/contacts/import")
def contacts_import() -> Any:
    return render_template("contacts/import.html", result=None, rows=[], limits=limits())


@bp.post("/contacts/import")
@csv_upload
def contacts_import_post() -> Any:
    session = get_session()
    dry_run = request.form.get("dry_run") is not None
    allow_duplicate = request.form.get("allow_duplicate") is not None

    def run(source: CsvFile) -> Any:
        return import_contacts(
            session,
            current_user(),
            source,
            dry_run=dry_run,
            allow_duplicate=allow_duplicate,
            max_rows=limits().max_rows,
        )

    result, rows, status = _import(run)
    page = render_template(
        "contacts/import.html",
        result=result,
        rows=rows,
        dry_run=dry_run,
        allow_duplicate=allow_duplicate,
        interrupted=status == ImportInterrupted.status,
        no_file=str(NO_FILE),
        limits=limits(),
    )
    return page, status


def _import(run: Any) -> tuple[Any, list[RowError], int]:
    """(the result, the bad rows, the status) of an import of the uploaded ``file``."""
    try:
        upload = form_file()
        if upload is None or _empty(upload):
            return None, [RowError(0, str(NO_FILE))], 422
        with upload:
            return run(CsvFile.from_stream(upload)), [], 200
    except ImportRefused as refused:
        get_session().rollback()
        more = refused.total - len(refused.row_errors)
        # English says "lines" even for one; other languages need the number's own form.
        said = ngettext(
            "…and %(more)s more bad lines.",
            "…and %(more)s more bad lines.",
            more,
            more=format(more, ","),
        )
        extra = [RowError(0, said)] if more else []
        return None, refused.row_errors + extra, refused.status
    except (ImportTooLarge, ImportInterrupted) as error:
        get_session().rollback()
        return None, [RowError(0, error.detail)], error.status
    except Invalid as error:
        get_session().rollback()
        texts = [" ".join(t) for t in messages_of(error).values()] or [error.detail]
        return None, [RowError(0, text) for text in texts], 422


def _empty(upload: Any) -> bool:
    upload.seek(0, 2)
    empty = upload.tell() == 0
    upload.seek(0)
    return bool(empty)
