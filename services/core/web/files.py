"""The card page's files panel: upload (a button, or files dropped on the panel), the list with
downloads, and removal.

The browser has no bearer token, so downloads go through a route of the logged-in session.
Without JavaScript the upload is a plain multipart form that comes back to the card page; with
it (``static/files.js``) files are sent one by one with a progress bar, the panel is redrawn
from the answer, and ``card-changed`` tells the page's other panels (the timeline).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from babel.numbers import format_decimal
from cardcrm.common.db import get_session
from cardcrm.common.errors import CardcrmError
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..cards.models import Card
from ..cards.service import get_card
from ..files import service
from ..files.downloads import download as download_response
from ..files.uploads import add_uploaded_file, file_upload
from .cards import CARD_PAGE_PARTS
from .dates import current_locale
from .errors import error_message, flash_error
from .security import current_user, is_htmx

bp = Blueprint("files", __name__)

#: Files shown on the card page; "Show all of them" shows up to ``SHOWN_ALL`` (the API and the
#: timeline page through every one).
SHOWN = 100
SHOWN_ALL = 2000
PANEL = "cards/_files.html"
CARD_CHANGED = {"HX-Trigger": "card-changed"}
UNITS = ("bytes", "KB", "MB", "GB", "TB")


def human_size(size: int) -> str:
    """``1536`` → ``1.5 KB`` (powers of 1024, as file managers show them), the number written
    as the reader's language writes it (``1,5 KB`` in Romanian)."""
    locale = current_locale()
    value = float(size)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            if unit == "bytes":
                shown = format_decimal(size, locale=locale)
                return ngettext("%(count)s byte", "%(count)s bytes", size, count=shown)
            # One decimal at most, none when it is 0 (``1 MB``); halves round to even.
            rounded = Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
            return f"{format_decimal(rounded, format='#,##0.#', locale=locale)} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def files_part(db: Session, card: Card, error: str | None = None) -> dict[str, Any]:
    """What ``cards/_files.html`` needs."""
    shown = SHOWN_ALL if request.args.get("files") == "all" else SHOWN
    files = service.list_files(db, card.id, None, shown + 1)
    more = len(files) > shown
    files = files[:shown]
    ids = {file.uploaded_by for file in files if file.uploaded_by is not None}
    uploaders = {
        user_id: name
        for user_id, name in db.execute(select(User.id, User.name).where(User.id.in_(ids)))
    }
    user = current_user()
    return {
        "card_files": files,
        "file_uploaders": uploaders,
        "file_removable": {
            file.id for file in files if service.may_remove(user, file, card) and not card.trashed
        },
        "human_size": human_size,
        "max_upload_bytes": service.max_upload_bytes(),
        "files_error": error,
        "more_files": more,
    }


CARD_PAGE_PARTS.append(files_part)


@bp.post("/cards/<int:card_id>/files")
@file_upload
def upload(card_id: int) -> Any:
    db, user = get_session(), current_user()
    get_card(db, card_id, viewer=user)  # a card out of sight is the page's 404, not a message
    try:
        file = add_uploaded_file(db, user, card_id)
    except CardcrmError as error:
        return _refused(db, card_id, error)
    if not is_htmx():
        flash(_("“%(name)s” is added to the card.", name=file.name))
        return redirect(url_for("web.cards.show", card_id=card_id, _anchor="files"))
    return _panel(db, card_id), 200, CARD_CHANGED


@bp.get("/files/<int:file_id>/download")
def download(file_id: int) -> Response:
    return download_response(service.get_file(get_session(), file_id, viewer=current_user()))


@bp.post("/files/<int:file_id>/delete")
def delete(file_id: int) -> Any:
    db, user = get_session(), current_user()
    file = service.get_file(db, file_id, viewer=user)
    card_id, name = file.card_id, file.name
    try:
        service.remove_file(db, user, file_id)
    except CardcrmError as error:
        return _refused(db, card_id, error)
    if not is_htmx():
        flash(_("“%(name)s” is removed from the card.", name=name))
        return redirect(url_for("web.cards.show", card_id=card_id, _anchor="files"))
    return _panel(db, card_id), 200, CARD_CHANGED


def _refused(db: Session, card_id: int, error: CardcrmError) -> Any:
    if not is_htmx():
        flash_error(error)
        return redirect(url_for("web.cards.show", card_id=card_id, _anchor="files"))
    return _panel(db, card_id, error_message(error)), error.status


def _panel(db: Session, card_id: int, error: str | None = None) -> str:
    card = get_card(db, card_id, viewer=current_user())
    return render_template(PANEL, card=card, **files_part(db, card, error))
