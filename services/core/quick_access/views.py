"""HTTP API of quick access: favourite filters, recently opened cards, Wall of Progress."""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import ApiBlueprint, Page, Reply
from cardcrm.common.db import get_session
from cardcrm.common.pagination import PageArgsSchema, decode_cursor, encode_cursor
from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, fields, validate

from ..auth.service import current_user
from ..cards.schemas import CardSchema
from . import service

bp = ApiBlueprint("quick_access", __name__, tag="Quick access")


class FavoriteCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    product_id = fields.Integer(required=True)
    query = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={
            "description": "Card list filters: status_id, group, owner_id, q, closed, field.<key>."
        },
    )


class FavoriteSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    product_id = fields.Integer()
    query = fields.Dict()
    url = fields.Method("_url", metadata={"type": "string"})
    created_at = Instant()

    def _url(self, favorite: Any) -> str:
        from urllib.parse import urlencode

        path = f"/api/v1/products/{favorite.product_id}/cards"
        return f"{path}?{urlencode(favorite.query)}" if favorite.query else path


class FavoriteArgsSchema(Schema):
    product_id = fields.Integer()


class WallItemSchema(Schema):
    id = fields.Integer()
    type = fields.String()
    at = Instant()
    user_id = fields.Integer(allow_none=True)
    card = fields.Nested(CardSchema)
    data = fields.Dict()


@bp.operation("/favorites", query=FavoriteArgsSchema, response=FavoriteSchema, paginated=True)
def list_favorites(args: dict[str, Any]) -> Page:
    """The caller's favourite filters (``product_id`` keeps one product's)."""
    return Page(service.list_favorites(get_session(), current_user(), args.get("product_id")))


@bp.operation(
    "/favorites",
    "POST",
    body=FavoriteCreateSchema,
    response=FavoriteSchema,
    status=201,
    errors=(404, 422),
)
def create_favorite(body: dict[str, Any]) -> Any:
    """Save a card filter as a favourite; it is checked like a card list query."""
    favorite = service.create_favorite(get_session(), current_user(), body)
    return Reply(favorite, headers={"Location": f"/api/v1/favorites/{favorite.id}"})


@bp.operation("/favorites/<int:favorite_id>", "DELETE", status=204, errors=(404,))
def delete_favorite(favorite_id: int) -> None:
    """Delete one of the caller's favourites."""
    service.delete_favorite(get_session(), current_user(), favorite_id)


@bp.operation("/recent", response=CardSchema, paginated=True)
def recent() -> Page:
    """The cards the caller opened last, newest first, at most 20."""
    return Page(service.recent_cards(get_session(), current_user()))


@bp.operation("/wall", query=PageArgsSchema, response=WallItemSchema, paginated=True)
def wall(args: dict[str, Any]) -> Page:
    """The team's recent positive results, newest first: cards won and tasks done."""
    position = decode_cursor(args.get("cursor")) or {}
    before = position.get("before") if isinstance(position.get("before"), int) else None
    rows = service.wall(get_session(), before, args["limit"] + 1, viewer=current_user())
    cursor = None
    if len(rows) > args["limit"]:
        rows = rows[: args["limit"]]
        cursor = encode_cursor({"before": rows[-1][0].id})
    items = [
        {
            "id": row.id,
            "type": row.type,
            "at": row.at,
            "user_id": row.user_id,
            "card": card,
            "data": row.data,
        }
        for row, card in rows
    ]
    return Page(items, cursor)
