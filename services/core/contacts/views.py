"""HTTP API of contacts: search, create (with duplicate detection), edit, merge, cards."""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import ApiBlueprint, Page, Reply, expected_versions
from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import PageArgsSchema, decode_cursor, encode_cursor
from cardcrm.common.translate import gettext as _

from ..auth.service import current_user
from ..cards.schemas import CardSchema
from ..products.models import Product
from . import service
from .schemas import (
    ContactCreateArgsSchema,
    ContactCreateSchema,
    ContactDeleteArgsSchema,
    ContactHistorySchema,
    ContactListArgsSchema,
    ContactSchema,
    ContactUpdateSchema,
    MergeSchema,
)

bp = ApiBlueprint("contacts", __name__, tag="Contacts")

CARDS_BY_PRODUCT = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "product": {"type": "object"},
                    "cards": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
        "next_cursor": {"type": ["string", "null"]},
    },
}


@bp.operation("/contacts", query=ContactListArgsSchema, response=ContactSchema, paginated=True)
def list_contacts(args: dict[str, Any]) -> Page:
    """People and companies by name; ``q`` searches name, e-mail and phone.

    The search ignores case and accents ("stefan" finds "Ștefan"); a query that looks like a
    phone number matches by its digits, however the number was written.
    """
    position = decode_cursor(args.get("cursor"))
    after = None
    if position is not None:
        try:
            after = (str(position["name"]), int(position["id"]))
        except (KeyError, TypeError, ValueError) as error:
            raise Invalid({"cursor": [_("Not a cursor this API gave out.")]}) from error
    limit = args["limit"]
    rows = service.search(get_session(), args.get("q"), args.get("kind"), after, limit + 1)
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = encode_cursor({"name": rows[-1].name, "id": rows[-1].id})
    return Page(rows, cursor)


@bp.operation(
    "/contacts",
    "POST",
    query=ContactCreateArgsSchema,
    body=ContactCreateSchema,
    response=ContactSchema,
    status=201,
    errors=(409, 422),
)
def create_contact(args: dict[str, Any], body: dict[str, Any]) -> Any:
    """Create a person or company; one sharing an e-mail or phone is a 409 with ``existing_id``.

    ``?allow_duplicate=true`` creates it anyway.
    """
    contact = service.create_contact(get_session(), current_user(), body, args["allow_duplicate"])
    return Reply(contact, headers={"Location": f"/api/v1/contacts/{contact.id}"})


@bp.operation("/contacts/<int:contact_id>", response=ContactSchema, errors=(404,))
def get_contact(contact_id: int) -> Any:
    """Read a contact."""
    return service.get_contact(get_session(), contact_id)


@bp.operation(
    "/contacts/<int:contact_id>",
    "PATCH",
    body=ContactUpdateSchema,
    response=ContactSchema,
    errors=(404, 412, 422),
)
def update_contact(contact_id: int, body: dict[str, Any]) -> Any:
    """Edit a contact (``If-Match`` guards against stale writes)."""
    return service.update_contact(
        get_session(), current_user(), contact_id, body, expected_versions()
    )


@bp.operation(
    "/contacts/<int:contact_id>",
    "DELETE",
    query=ContactDeleteArgsSchema,
    status=204,
    errors=(403, 404, 409, 412),
)
def delete_contact(contact_id: int, args: dict[str, Any]) -> None:
    """Delete a contact; one on cards needs ``?force=true`` (the cards keep a history row).

    Only an admin or the contact's creator may (403). A contact linked to cards the caller may
    not see is refused (409, with no count) even with ``force``: only an admin can delete it.
    """
    service.delete_contact(
        get_session(), current_user(), contact_id, args["force"], expected_versions()
    )


@bp.operation(
    "/contacts/<int:contact_id>/merge",
    "POST",
    body=MergeSchema,
    response=ContactSchema,
    errors=(403, 404, 409, 422),
)
def merge_contacts(contact_id: int, body: dict[str, Any]) -> Any:
    """Merge ``other_id`` into this contact: cards, history and values move over.

    Only an admin or the creator of both contacts may (403); when the other contact is on
    cards the caller may not see, only an admin (409).
    """
    return service.merge_contacts(get_session(), current_user(), contact_id, body["other_id"])


@bp.operation("/contacts/<int:contact_id>/cards", raw_response=CARDS_BY_PRODUCT, errors=(404,))
def contact_cards(contact_id: int) -> dict[str, Any]:
    """The contact's cards across products, grouped by product (cards the caller may see)."""
    from ..access import visible_cards_condition

    session = get_session()
    cards = service.cards_of(session, contact_id, visible_cards_condition(session, current_user()))
    products = {
        product.id: product
        for product in session.query(Product).filter(Product.id.in_({c.product_id for c in cards}))
    }
    groups: dict[int, dict[str, Any]] = {}
    schema = CardSchema()
    for card in cards:
        group = groups.setdefault(
            card.product_id,
            {
                "product": {"id": card.product_id, "name": products[card.product_id].name},
                "cards": [],
            },
        )
        group["cards"].append(schema.dump(card))
    return {"items": list(groups.values()), "next_cursor": None}


@bp.operation(
    "/contacts/<int:contact_id>/history",
    query=PageArgsSchema,
    response=ContactHistorySchema,
    paginated=True,
    errors=(404,),
)
def contact_history(contact_id: int, args: dict[str, Any]) -> Page:
    """A contact's history, oldest first (merges bring the other contact's history along)."""
    position = decode_cursor(args.get("cursor")) or {}
    after = position.get("after") if isinstance(position.get("after"), int) else None
    rows = service.history(get_session(), contact_id, after, args["limit"] + 1)
    cursor = None
    if len(rows) > args["limit"]:
        rows = rows[: args["limit"]]
        cursor = encode_cursor({"after": rows[-1].id})
    return Page(rows, cursor)
