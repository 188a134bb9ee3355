"""Query strings of the CSV endpoints and the answer of an import."""

from __future__ import annotations

from marshmallow import Schema, fields

from ..cards.schemas import CardListArgsSchema


class ExportArgsSchema(Schema):
    bom = fields.Boolean(
        load_default=False,
        metadata={"description": "Start with a UTF-8 BOM (Excel then reads accents right)."},
    )


class CardExportArgsSchema(CardListArgsSchema, ExportArgsSchema):
    """The card list's filters (without its paging and order: rows come by id) and ``bom``."""

    class Meta:
        exclude = ("limit", "cursor", "sort")


class ImportArgsSchema(Schema):
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "Check the file and count, write nothing."}
    )


class ContactImportArgsSchema(ImportArgsSchema):
    allow_duplicate = fields.Boolean(
        load_default=False,
        metadata={"description": "Create contacts sharing an e-mail or phone with another."},
    )


class RowErrorSchema(Schema):
    line = fields.Integer(metadata={"description": "The spreadsheet's row: the header is 1."})
    message = fields.String()


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer(metadata={"description": "Rows equal to what is stored."})
    dry_run = fields.Boolean()
    errors = fields.List(fields.Nested(RowErrorSchema))
