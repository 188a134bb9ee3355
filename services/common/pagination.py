"""Opaque cursors for keyset pagination: the position after the last item of a page."""

from __future__ import annotations

import base64
import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .errors import Invalid
from .input_rules import check_integers, column_integers
from .translate import gettext as _

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class PageArgsSchema(Schema):
    """A list's query: its page, and (in subclasses) its filters."""

    limit = fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT)
    )
    cursor = fields.String(load_default=None, validate=validate.Length(max=1000))

    @validates_schema(skip_on_field_errors=False)
    def _integers_in_64_bits(self, data: dict[str, Any], **_: Any) -> None:
        # Also where a page loads a list's filters itself (web pages, streamed exports), not
        # only through an API operation: an id filter past 64 bits names nothing, and would
        # fail in the database only once the first row is fetched.
        try:
            check_integers(data, narrow=column_integers(self.fields))
        except Invalid as error:
            raise ValidationError(error.extra["errors"]) from error


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as error:
        raise Invalid({"cursor": [_("Not a cursor this API gave out.")]}) from error
    if not isinstance(position, dict):
        raise Invalid({"cursor": [_("Not a cursor this API gave out.")]})
    return position
