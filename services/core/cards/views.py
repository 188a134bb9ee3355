"""HTTP API of cards: list, create, read, edit, move, trash, restore and history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from cardcrm.common.api import (
    JSON_MIMETYPE,
    ApiBlueprint,
    Page,
    dumps,
    etag_for,
    expected_versions,
)
from cardcrm.common.db import get_session
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.timeutil import utcnow
from flask import Response, request

from .. import answers
from ..auth.service import authenticated_principal, caller_scope, current_user
from ..quick_access.service import note_card_opened
from . import fast, queries, service
from .changes import card_json
from .models import RENAMED_HISTORY_TYPES, Card
from .schemas import (
    CardCreateSchema,
    CardDeleteArgsSchema,
    CardListArgsSchema,
    CardSchema,
    CardUpdateSchema,
    HistoryArgsSchema,
    HistorySchema,
)

bp = ApiBlueprint("cards", __name__, tag="Cards")


@bp.operation(
    "/products/<int:product_id>/cards",
    query=CardListArgsSchema,
    response=CardSchema,
    paginated=True,
    errors=(404, 422),
    extra_query=queries.FIELD_FILTER_DOC,
    other_responses={304: answers.NOT_MODIFIED},
)
def list_cards(product_id: int, args: dict[str, Any]) -> Response:
    """List a product's cards, next deadline first (or in the order ``sort`` names).

    Cards with an open task come first, ordered by their next open task's deadline (ties by
    id); cards with none follow, most recently updated first. Filters combine with AND.
    ``sort`` orders by another column (ties by id); cards without a value in it come last.
    """
    now = utcnow()
    field_filters = queries.field_filters_of(request.args)

    def make() -> tuple[bytes, None]:
        # Rows to the schema's dicts without ORM objects (``fast.py``), answered as
        # ``_respond`` would answer the ``Page`` of cards dumped with ``CardSchema``.
        session, user = get_session(), current_user()
        items, cursor = queries.list_card_dicts(session, product_id, args, field_filters, user)
        return dumps({"items": items, "next_cursor": cursor}), None

    def build() -> tuple[bytes, datetime | None]:
        # Every caller who sees the whole product gets the same list: one kept for all. Who
        # they are is known without a statement (admins; members, whose memberships came
        # with the token: ``access.scope_of``); a product that is missing is a 404 when the
        # list is made, and the unfiltered list decides the caller's sight in its page's
        # statement.
        scope = caller_scope()  # no session: a kept list needs none
        if scope.everything or product_id in scope.products:
            return answers.shared(("cards", product_id, "all"), now, make)
        return make()

    # Kept while no event is recorded (``answers.py``): the list holds no time of day.
    return answers.answer(("cards", product_id), now, build)


@bp.operation(
    "/products/<int:product_id>/cards",
    "POST",
    body=CardCreateSchema,
    response=CardSchema,
    status=201,
    errors=(404, 422),
    scope="cards:create",
)
def create_card(product_id: int, body: dict[str, Any]) -> Any:
    """Create a card (in the product's first status unless ``status_id`` says otherwise)."""
    card = service.create_card(get_session(), current_user(), product_id, body)
    return _answer(card, 201, {"Location": f"/api/v1/cards/{card.id}"})


@bp.operation("/cards/<int:card_id>", response=CardSchema, errors=(404,))
def get_card(card_id: int) -> Any:
    """Read a card (also recorded in the caller's recent cards)."""
    session = get_session()
    principal = authenticated_principal()
    # The card as ``CardSchema`` dumps it, read in one statement (``fast.load_card``).
    card = fast.load_card(session, card_id, principal.user)
    # A sidecar checking a card for someone opened nothing.
    if principal.service is None and principal.user is not None:
        note_card_opened(session, principal.user, cast(Card, _Opened(card_id)))
    return Response(
        dumps(card),
        headers={"ETag": etag_for(card["version"])},
        mimetype=JSON_MIMETYPE,
    )


@dataclass(frozen=True)
class _Opened:
    """What ``note_card_opened`` reads of a card: its id."""

    id: int


@bp.operation(
    "/cards/<int:card_id>",
    "PATCH",
    body=CardUpdateSchema,
    response=CardSchema,
    errors=(404, 409, 412, 422),
)
def update_card(card_id: int, body: dict[str, Any]) -> Any:
    """Edit a card or move it to another status (``If-Match`` guards against stale writes).

    A plugin may refuse a status change: the answer is then a 422 with its reasons.
    """
    card = service.update_card(get_session(), current_user(), card_id, body, expected_versions())
    return _answer(card)


def _answer(card: Card, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """What ``_respond`` answers for the card dumped with ``CardSchema`` (its ETag after the
    other headers), the dict built by ``card_json`` like the write's event (tested byte for
    byte: ``tests/core/test_write_paths.py``)."""
    headers = {**(headers or {}), "ETag": etag_for(card.version)}
    return Response(dumps(card_json(card)), status=status, headers=headers, mimetype=JSON_MIMETYPE)


@bp.operation(
    "/cards/<int:card_id>",
    "DELETE",
    query=CardDeleteArgsSchema,
    status=204,
    errors=(403, 404, 409, 412),
)
def delete_card(card_id: int, args: dict[str, Any]) -> None:
    """Move a card to the trash (``?purge=true``: an admin deletes a trashed card for good)."""
    session = get_session()
    if args["purge"]:
        service.purge_card(session, current_user(), card_id)
    else:
        service.trash_card(session, current_user(), card_id, expected_versions())
    return None


@bp.operation("/cards/<int:card_id>/restore", "POST", response=CardSchema, errors=(404, 409))
def restore_card(card_id: int) -> Any:
    """Bring a card back from the trash, with its tasks and history."""
    return service.restore_card(get_session(), current_user(), card_id)


@bp.operation(
    "/cards/<int:card_id>/history",
    query=HistoryArgsSchema,
    response=HistorySchema,
    paginated=True,
    errors=(404,),
)
def card_history(card_id: int, args: dict[str, Any]) -> Page:
    """A card's history, oldest first; ``type`` keeps only some kinds (repeatable)."""
    position = decode_cursor(args.get("cursor")) or {}
    after = position.get("after")
    if after is not None and not isinstance(after, int):
        after = None
    types = [RENAMED_HISTORY_TYPES.get(kind, kind) for kind in args.get("type") or []]
    rows = service.history(get_session(), card_id, types, after, args["limit"] + 1, current_user())
    cursor = None
    if len(rows) > args["limit"]:
        rows = rows[: args["limit"]]
        cursor = encode_cursor({"after": rows[-1].id})
    return Page(rows, cursor)
