"""HTTP API of card e-mails: read them, rotate a card's address, and the receiver's two calls.

The receiver (``cardcrm serve mail``) holds no database: at ``RCPT`` it asks
``GET /mail/recipients/{address}`` and at the end of ``DATA`` it posts the raw message to
``POST /mail/messages``, with a service token carrying the scope ``mail:deliver``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.api import ApiBlueprint, Page, expected_versions
from cardcrm.common.db import get_session
from cardcrm.common.errors import Forbidden, Invalid, NotFound
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.translate import gettext as _
from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth.service import authenticated_principal, current_user
from ..cards.schemas import CardSchema
from . import service, timeline  # noqa: F401 - registers the timeline source
from .errors import MessageTooLarge
from .schemas import (
    DeliveryArgsSchema,
    DeliverySchema,
    EmailListArgsSchema,
    EmailSchema,
    RecipientSchema,
    with_files,
)

bp = ApiBlueprint("mail", __name__, tag="E-mail")

RAW_MESSAGE = {
    "message/rfc822": {
        "schema": {"type": "string", "description": "The raw RFC 5322 message, as received."}
    }
}


@bp.operation(
    "/cards/<int:card_id>/emails",
    query=EmailListArgsSchema,
    response=EmailSchema,
    paginated=True,
    errors=(404, 422),
)
def list_emails(card_id: int, args: dict[str, Any]) -> Page:
    """A card's e-mails, newest first."""
    session = get_session()
    position = decode_cursor(args.get("cursor"))
    after = None
    if position is not None:
        try:
            after = (datetime.fromisoformat(position["at"]), int(position["id"]))
        except (KeyError, TypeError, ValueError) as error:
            raise Invalid({"cursor": [_("Not a cursor this API gave out.")]}) from error
    limit = args["limit"]
    emails = service.list_emails(session, current_user(), card_id, after, limit + 1)
    cursor = None
    if len(emails) > limit:
        emails = emails[:limit]
        cursor = encode_cursor({"at": emails[-1].received_at.isoformat(), "id": emails[-1].id})
    return Page(with_files(session, emails), cursor)


@bp.operation("/emails/<int:email_id>", response=EmailSchema, errors=(404,))
def get_email(email_id: int) -> Any:
    """Read an e-mail filed on a card."""
    session = get_session()
    return with_files(session, [service.get_email(session, current_user(), email_id)])[0]


@bp.operation(
    "/cards/<int:card_id>/email-address/rotate",
    "POST",
    response=CardSchema,
    errors=(404, 409, 412),
)
def rotate_email_address(card_id: int) -> Any:
    """Give the card a new e-mail address; mail to the old one is refused from now on."""
    return service.rotate_address(get_session(), current_user(), card_id, expected_versions())


def _mail_service() -> None:
    """Only a service token (the receiver's) files mail: a user sends mail by mail."""
    if authenticated_principal().service is None:
        raise Forbidden(_("Only the mail receiver's service token may do this."))


@bp.operation(
    "/mail/recipients/<path:address>",
    auth="events",
    response=RecipientSchema,
    errors=(403, 404),
    scope="mail:deliver",
)
def check_recipient(address: str) -> Any:
    """Whether ``address`` is a live card's (services only): 404 for unknown, rotated or
    trashed-card addresses, which the receiver refuses at RCPT."""
    _mail_service()
    card = service.live_card_for(get_session(), address)
    if card is None:
        raise NotFound(_("No card has this address."))
    return {"address": address, "card_id": card.id}


@bp.operation(
    "/mail/messages",
    "POST",
    auth="events",
    query=DeliveryArgsSchema,
    response=DeliverySchema,
    raw_body=RAW_MESSAGE,
    errors=(403, 413, 422),
    scope="mail:deliver",
)
def deliver_message(args: dict[str, Any]) -> Any:
    """File a raw RFC 5322 message (the body) on the card of each ``recipient`` (services only).

    Answers once the e-mails are committed: a message a card already has (same Message-ID)
    is not stored again. Recipients naming no live card are listed in ``refused``.
    """
    _mail_service()
    limit = int(current_app.config.get("MAIL_MAX_BYTES") or 25 * 1024 * 1024)
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise MessageTooLarge(limit)
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as error:
        raise MessageTooLarge(limit) from error
    if not raw:
        raise Invalid({"body": [_("Send the raw message as the body.")]})
    return service.deliver(get_session(), args["recipient"], raw)
