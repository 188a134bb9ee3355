"""HTTP API of global search: ``GET /api/v1/search?q=``."""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import ApiBlueprint, Page
from cardcrm.common.db import get_session
from marshmallow import Schema, fields, validate

from ..auth.service import current_user
from . import service

bp = ApiBlueprint("search", __name__, tag="Search")


class SearchArgsSchema(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=200))
    limit = fields.Integer(
        load_default=10,
        validate=validate.Range(min=1, max=50),
        metadata={"description": "At most this many cards, and this many contacts."},
    )


class SearchProductSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class SearchHitSchema(Schema):
    kind = fields.String(metadata={"description": "`card` or `contact` (people and companies)."})
    id = fields.Integer()
    title = fields.String(metadata={"description": "The card's title or the contact's name."})
    detail = fields.String(
        allow_none=True,
        metadata={"description": "The card's status; the contact's first e-mail or phone."},
    )
    product = fields.Nested(SearchProductSchema, allow_none=True)
    url = fields.String(metadata={"description": "The web UI's page of the item."})


@bp.operation("/search", query=SearchArgsSchema, response=SearchHitSchema, paginated=True)
def search(args: dict[str, Any]) -> Page:
    """Cards and contacts whose words hold every word of `q` (case and accents ignored).

    Cards: those the caller may see (not trashed), by title, field values and notes, most
    recently changed first. Contacts (people and companies, seen by the whole team): by name,
    e-mail and phone. `next_cursor` is always null: search answers one page.
    """
    return Page(service.search(get_session(), current_user(), args["q"], args["limit"]))
