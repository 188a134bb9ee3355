"""The card page's e-mail panel: the card's address with a Copy button, and a new address.

Rotating is a form (with a confirmation): with htmx the answer is the panel itself and
``HX-Trigger: card-changed`` (the timeline reloads); without JavaScript the browser goes back
to the card. E-mails themselves show in the timeline, each through ``cards/_email_item.html``.
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import CardcrmError
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from ..cards.models import Card
from ..cards.service import get_card
from ..mail.address import card_address
from ..mail.models import CardEmail
from ..mail.service import rotate_address
from .cards import CARD_PAGE_PARTS
from .errors import flash_error
from .security import current_user, is_htmx

bp = Blueprint("mail", __name__)

CARD_CHANGED = {"HX-Trigger": "card-changed"}


#: How many of the latest e-mails the panel names (all of them are in the timeline).
LATEST = 3


def mail_context(db: Session, card: Card) -> dict[str, Any]:
    count = db.scalar(select(func.count(CardEmail.id)).where(CardEmail.card_id == card.id))
    latest = db.scalars(
        select(CardEmail)
        .where(CardEmail.card_id == card.id)
        .order_by(CardEmail.received_at.desc(), CardEmail.id.desc())
        .limit(LATEST)
    )
    return {
        "mail_address": card_address(card),
        "mail_count": count or 0,
        "mail_latest": list(latest),
        "mail_error": None,
    }


CARD_PAGE_PARTS.append(mail_context)


@bp.app_template_global("email_file_url")
def email_file_url(file_id: int) -> str:
    """Where the web UI downloads a card file (the files pages' route)."""
    try:
        return url_for("web.files.download", file_id=file_id)
    except BuildError:
        return f"/files/{int(file_id)}/download"


@bp.post("/cards/<int:card_id>/email-address/rotate")
def rotate(card_id: int) -> Any:
    db = get_session()
    get_card(db, card_id, viewer=current_user())  # a card out of sight: 404, as everywhere
    error = None
    try:
        rotate_address(db, current_user(), card_id)
    except CardcrmError as refused:
        error = refused
    if not is_htmx():
        if error is not None:
            flash_error(error)
        else:
            flash(_("The card has a new e-mail address; mail to the old one is refused."))
        return redirect(url_for("web.cards.show", card_id=card_id, _anchor="email"))
    card = get_card(db, card_id, viewer=current_user())
    context = {"card": card, **mail_context(db, card)}
    if error is not None:
        context["mail_error"] = error.detail
        return render_template("cards/_email.html", **context)
    return render_template("cards/_email.html", **context), 200, CARD_CHANGED
