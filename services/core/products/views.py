"""HTTP API of products, statuses, templates and plugins."""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import ApiBlueprint, Page, Reply, expected_versions
from cardcrm.common.db import get_session
from cardcrm.common.plugins import describe_plugins
from flask import current_app
from marshmallow import Schema, fields, validate

from ..auth.service import current_user
from . import members, service, statuses, templates
from .schemas import (
    PluginSchema,
    ProductCreateSchema,
    ProductDeleteArgsSchema,
    ProductSchema,
    ProductUpdateSchema,
    StatusDeleteArgsSchema,
    StatusSchema,
    StatusUpdateSchema,
    TemplateSchema,
)

bp = ApiBlueprint("products", __name__, tag="Products and statuses")


@bp.operation("/templates", response=TemplateSchema, paginated=True)
def list_templates() -> Page:
    """The product templates the installed plugins offer."""
    return Page(templates.list_templates())


@bp.operation("/plugins", response=PluginSchema, paginated=True)
def list_plugins() -> Page:
    """The installed plugins and the hooks each implements."""
    return Page(describe_plugins(current_app.extensions["cardcrm_plugins"]))


@bp.operation("/products", response=ProductSchema, paginated=True, scope="products:read")
def list_products() -> Page:
    """The products, by name."""
    return Page(service.list_products(get_session(), viewer=current_user()))


@bp.operation(
    "/products",
    "POST",
    auth="admin",
    body=ProductCreateSchema,
    response=ProductSchema,
    status=201,
    errors=(403, 422),
)
def create_product(body: dict[str, Any]) -> Any:
    """Create a product from a template or from the statuses given (admins only)."""
    product = service.create_product(get_session(), current_user(), body)
    return Reply(product, headers={"Location": f"/api/v1/products/{product.id}"})


@bp.operation(
    "/products/<int:product_id>", response=ProductSchema, errors=(404,), scope="products:read"
)
def get_product(product_id: int) -> Any:
    """Read a product with its statuses in order, fields and task types."""
    return service.get_product(get_session(), product_id, viewer=current_user())


@bp.operation(
    "/products/<int:product_id>",
    "PATCH",
    auth="admin",
    body=ProductUpdateSchema,
    response=ProductSchema,
    errors=(403, 404, 412, 422),
)
def update_product(product_id: int, body: dict[str, Any]) -> Any:
    """Rename a product or replace its field definitions or task types (admins only)."""
    return service.update_product(
        get_session(), current_user(), product_id, body, expected_versions()
    )


@bp.operation(
    "/products/<int:product_id>",
    "DELETE",
    auth="admin",
    query=ProductDeleteArgsSchema,
    status=204,
    errors=(403, 404, 409),
)
def delete_product(product_id: int, args: dict[str, Any]) -> None:
    """Delete a product; one that still has cards needs ``?force=true``."""
    service.delete_product(get_session(), current_user(), product_id, args["force"])


@bp.operation(
    "/products/<int:product_id>/statuses",
    "POST",
    auth="admin",
    body=StatusSchema,
    response=StatusSchema,
    status=201,
    errors=(403, 404, 422),
)
def add_status(product_id: int, body: dict[str, Any]) -> Any:
    """Add a status to a product (at ``position`` in its group, default last)."""
    return statuses.add_status(get_session(), current_user(), product_id, body)


@bp.operation(
    "/statuses/<int:status_id>",
    "PATCH",
    auth="admin",
    body=StatusUpdateSchema,
    response=StatusSchema,
    errors=(403, 404, 422),
)
def update_status(status_id: int, body: dict[str, Any]) -> Any:
    """Rename a status, or move it to another group or position."""
    return statuses.update_status(get_session(), current_user(), status_id, body)


@bp.operation(
    "/statuses/<int:status_id>",
    "DELETE",
    auth="admin",
    query=StatusDeleteArgsSchema,
    status=204,
    errors=(403, 404, 409, 422),
)
def delete_status(status_id: int, args: dict[str, Any]) -> None:
    """Delete a status; one that cards use needs ``?move_to={status_id}``."""
    statuses.delete_status(get_session(), current_user(), status_id, args.get("move_to"))


class MemberSchema(Schema):
    user_id = fields.Integer(required=True)
    own_cards_only = fields.Boolean(load_default=False)


class MembersSchema(Schema):
    items = fields.List(
        fields.Nested(MemberSchema), required=True, validate=validate.Length(max=10_000)
    )


@bp.operation(
    "/products/<int:product_id>/members", auth="admin", response=MembersSchema, errors=(403, 404)
)
def get_members(product_id: int) -> Any:
    """Who may see the product (admins see every product); ``own_cards_only`` limits a member."""
    session = get_session()
    service.get_product(session, product_id)
    return {"items": members.members(session, product_id)}


@bp.operation(
    "/products/<int:product_id>/members",
    "PUT",
    auth="admin",
    body=MembersSchema,
    response=MembersSchema,
    errors=(403, 404, 422),
)
def put_members(product_id: int, body: dict[str, Any]) -> Any:
    """Replace the product's members."""
    return {"items": members.set_members(get_session(), product_id, body["items"])}
