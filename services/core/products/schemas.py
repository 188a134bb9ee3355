"""Request and response schemas of products, statuses, fields and templates."""

from __future__ import annotations

from cardcrm.common.schema_fields import Instant
from cardcrm.common.translate import N_
from cardcrm.common.translate import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..cards.fields import CHOICE_TYPES, FIELD_TYPES
from .models import GROUPS, Product
from .task_types import product_task_types

KEY = validate.Regexp(
    r"^[a-z][a-z0-9_]{0,62}$",
    error=N_("Use small letters, digits and _ (starting with a letter), up to 63 characters."),
)
NAME = validate.Length(min=1, max=200)


class FieldDefinitionSchema(Schema):
    key = fields.String(required=True, validate=KEY)
    label = fields.String(required=True, validate=NAME)
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    required = fields.Boolean()
    choices = fields.List(fields.String(validate=NAME), validate=validate.Length(max=500))
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error=N_("An ISO 4217 code.")))

    @validates_schema
    def _choices(self, data: dict, **kwargs: object) -> None:
        if data.get("type") in CHOICE_TYPES and not data.get("choices"):
            raise ValidationError(_("A choice field needs its choices."), "choices")


class TaskTypeSchema(Schema):
    key = fields.String(required=True, validate=KEY)
    label = fields.String(required=True, validate=NAME)


class StatusInputSchema(Schema):
    name = fields.String(required=True, validate=NAME)
    group = fields.String(required=True, validate=validate.OneOf(GROUPS))


class StatusSchema(Schema):
    id = fields.Integer(dump_only=True)
    product_id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=NAME)
    group = fields.String(required=True, validate=validate.OneOf(GROUPS))
    position = fields.Integer(validate=validate.Range(min=0))


class StatusUpdateSchema(Schema):
    name = fields.String(validate=NAME)
    group = fields.String(validate=validate.OneOf(GROUPS))
    position = fields.Integer(validate=validate.Range(min=0))


class StatusDeleteArgsSchema(Schema):
    move_to = fields.Integer(metadata={"description": "Status that receives the cards."})


def _unique_keys(items: list[dict], what: str, field: str) -> None:
    keys = [item["key"] for item in items]
    if len(keys) != len(set(keys)):
        message = (
            _("Each field key may appear once.")
            if what == "field"
            else _("Each task type key may appear once.")
        )
        raise ValidationError(message, field)


class ProductCreateSchema(Schema):
    name = fields.String(required=True, validate=NAME)
    template = fields.String(validate=validate.Length(min=1, max=100))
    statuses = fields.List(
        fields.Nested(StatusInputSchema), validate=validate.Length(min=1, max=100)
    )
    fields_ = fields.List(
        fields.Nested(FieldDefinitionSchema),
        data_key="fields",
        attribute="fields",
        validate=validate.Length(max=200),
    )
    task_types = fields.List(fields.Nested(TaskTypeSchema), validate=validate.Length(max=100))

    @validates_schema
    def _consistent(self, data: dict, **kwargs: object) -> None:
        if not data.get("template") and not data.get("statuses"):
            raise ValidationError(_("Give a template or the statuses."), "statuses")
        _unique_keys(data.get("fields") or [], "field", "fields")
        _unique_keys(data.get("task_types") or [], "task type", "task_types")


class TemplateInputSchema(Schema):
    """What a plugin's ``cardcrm_product_templates`` must return for each template."""

    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    description = fields.String(load_default="")
    statuses = fields.List(
        fields.Nested(StatusInputSchema), required=True, validate=validate.Length(min=1, max=100)
    )
    fields_ = fields.List(
        fields.Nested(FieldDefinitionSchema),
        data_key="fields",
        attribute="fields",
        load_default=list,
    )
    task_types = fields.List(fields.Nested(TaskTypeSchema), load_default=list)

    @validates_schema
    def _consistent(self, data: dict, **kwargs: object) -> None:
        names = [status["name"].casefold() for status in data.get("statuses") or []]
        if len(names) != len(set(names)):
            raise ValidationError(_("Status names must be unique."), "statuses")
        _unique_keys(data.get("fields") or [], "field", "fields")
        _unique_keys(data.get("task_types") or [], "task type", "task_types")


class ProductUpdateSchema(Schema):
    name = fields.String(validate=NAME)
    fields_ = fields.List(
        fields.Nested(FieldDefinitionSchema),
        data_key="fields",
        attribute="fields",
        validate=validate.Length(max=200),
    )
    task_types = fields.List(fields.Nested(TaskTypeSchema), validate=validate.Length(max=100))

    @validates_schema
    def _consistent(self, data: dict, **kwargs: object) -> None:
        _unique_keys(data.get("fields") or [], "field", "fields")
        _unique_keys(data.get("task_types") or [], "task type", "task_types")


class ProductSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    slug = fields.String()
    template = fields.String(allow_none=True)
    statuses = fields.List(fields.Nested(StatusSchema))
    fields_ = fields.List(
        fields.Nested(FieldDefinitionSchema), data_key="fields", attribute="fields"
    )
    task_types = fields.Method(
        "_task_types", metadata={"type": "array", "items": {"type": "object"}}
    )
    created_at = Instant()
    updated_at = Instant()
    version = fields.Integer()

    def _task_types(self, product: Product) -> list[dict[str, str]]:
        return product_task_types(product)


class ProductDeleteArgsSchema(Schema):
    force = fields.Boolean(load_default=False)


class TemplateSchema(Schema):
    key = fields.String()
    name = fields.String()
    description = fields.String()
    statuses = fields.List(fields.Nested(StatusInputSchema))
    fields_ = fields.List(
        fields.Nested(FieldDefinitionSchema), data_key="fields", attribute="fields"
    )
    task_types = fields.List(fields.Nested(TaskTypeSchema))
    plugin = fields.String()


class PluginSchema(Schema):
    name = fields.String()
    version = fields.String()
    hooks = fields.List(fields.String())
