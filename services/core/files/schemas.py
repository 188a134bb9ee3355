"""Request and response schemas of card files (an upload is a multipart form, read by the
view; these describe the JSON)."""

from __future__ import annotations

from cardcrm.common.pagination import PageArgsSchema
from cardcrm.common.schema_fields import Instant
from marshmallow import Schema, fields


class FileSchema(Schema):
    id = fields.Integer()
    card_id = fields.Integer()
    name = fields.String()
    size = fields.Integer(metadata={"description": "Bytes."})
    content_type = fields.String(
        metadata={
            "description": "As uploaded (or guessed from the name); the download of a "
            "type a browser would render (HTML, SVG, XML) is served as application/octet-stream."
        }
    )
    sha256 = fields.String(metadata={"description": "SHA-256 of the bytes, lower-case hex."})
    uploaded_by = fields.Integer(allow_none=True)
    created_at = Instant()


class FileListArgsSchema(PageArgsSchema):
    pass
