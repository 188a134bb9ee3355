"""Custom card fields: their types, and validating values against a product's definitions.

A product's definitions become a marshmallow schema, so values are checked by the same library
as every request body. Values are stored as JSON: dates as ``YYYY-MM-DD``, date-times as
RFC 3339 in UTC, money as a decimal string with two places (``"1250.00"``), multiple choice as
a list, checkbox as a boolean.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cardcrm.common.timeutil import OUT_OF_CALENDAR, in_calendar
from cardcrm.common.translate import N_
from cardcrm.common.translate import gettext as _
from marshmallow import RAISE, Schema, ValidationError, fields, validate

PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{3,30}$")

FIELD_TYPES = (
    "text",
    "number",
    "money",
    "date",
    "datetime",
    "choice",
    "multichoice",
    "checkbox",
    "email",
    "phone",
    "url",
)
CHOICE_TYPES = ("choice", "multichoice")


def _in_calendar(value: date | datetime) -> None:
    # As deadlines: a value past the calendar cardcrm keeps cannot be shown in a time zone.
    if not in_calendar(value):
        raise ValidationError(OUT_OF_CALENDAR)


class Money(fields.Decimal):
    """A non-negative or negative amount with at most two decimals, kept as a string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(places=2, as_string=True, allow_nan=False, **kwargs)

    def _validated(self, value: Any) -> Decimal:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictFloat(fields.Float):
    def _validated(self, value: Any) -> float:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


def _field_for(definition: dict[str, Any]) -> fields.Field:
    kind = definition["type"]
    options: dict[str, Any] = {"required": bool(definition.get("required")), "allow_none": True}
    if options["required"]:
        options["allow_none"] = False
    choices = definition.get("choices") or []
    if kind == "text":
        return fields.String(validate=validate.Length(max=10_000), **options)
    if kind == "number":
        return StrictFloat(allow_nan=False, **options)
    if kind == "money":
        return Money(**options)
    if kind == "date":
        return fields.Date(validate=_in_calendar, **options)
    if kind == "datetime":
        return fields.AwareDateTime(validate=_in_calendar, **options)
    if kind == "choice":
        return fields.String(validate=validate.OneOf(choices), **options)
    if kind == "multichoice":
        return fields.List(fields.String(validate=validate.OneOf(choices)), **options)
    if kind == "checkbox":
        return fields.Boolean(truthy={True}, falsy={False}, **options)
    if kind == "email":
        return fields.Email(**options)
    if kind == "phone":
        return fields.String(
            validate=validate.Regexp(PHONE, error=N_("Not a valid phone number.")), **options
        )
    if kind == "url":
        return fields.Url(schemes={"http", "https"}, **options)
    raise ValueError(f"unknown field type {kind!r}")


def values_schema(definitions: list[dict[str, Any]]) -> Schema:
    """The schema of a product's field values, built once per distinct set of definitions."""
    key = json.dumps(definitions, sort_keys=True)
    schema = _SCHEMAS.get(key)
    if schema is None:
        if len(_SCHEMAS) >= 256:
            _SCHEMAS.clear()
        schema = _SCHEMAS[key] = _build_schema(definitions)
    return schema


_SCHEMAS: dict[str, Schema] = {}


def _build_schema(definitions: list[dict[str, Any]]) -> Schema:
    schema_class = Schema.from_dict(
        {definition["key"]: _field_for(definition) for definition in definitions},
        name="CardFieldValues",
    )
    return schema_class(unknown=RAISE)


def clean_values(
    definitions: list[dict[str, Any]], values: dict[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """Validate ``values`` and return them in their stored JSON form.

    Raises marshmallow's ``ValidationError`` with messages keyed by field, which the API
    reports under ``fields.<key>``. Empty strings count as no value.
    """
    if not isinstance(values, dict):
        raise ValidationError({"fields": [_("Must be an object of field values.")]})
    values = {key: (None if value == "" else value) for key, value in values.items()}
    schema = values_schema(definitions)
    try:
        loaded = schema.load(values, partial=partial)
    except ValidationError as error:
        raise ValidationError(
            {f"fields.{key}": messages for key, messages in _flatten(error.messages).items()}
        ) from error
    dumped = schema.dump(loaded)
    return {key: value for key, value in dumped.items() if key in loaded}


def merge_fields(
    definitions: list[dict[str, Any]], stored: dict[str, Any], incoming: dict[str, Any]
) -> dict[str, Any]:
    """The card's field values after a PATCH of ``fields``.

    Keys given replace, ``null`` clears, the rest stay. A value kept for a field the product no
    longer defines is left as it was (nothing the user entered is lost), but a request may
    only set fields the product defines.
    """
    defined = {definition["key"] for definition in definitions}
    unknown = sorted(set(incoming) - defined)
    if unknown:
        clean_values(definitions, {key: incoming[key] for key in unknown})  # raises, naming them
    merged = {**stored, **incoming}
    current = {k: v for k, v in merged.items() if k in defined and v not in (None, "")}
    kept = {k: v for k, v in stored.items() if k not in defined and k not in incoming}
    return {**kept, **clean_values(definitions, current)}


class FieldCleaner:
    """``clean_values`` and ``merge_fields`` for many cards of one product (an import).

    The same rules, field by field: a value schema checks each field on its own (no rule
    spans fields), so each field's deserialize-then-serialize is what ``clean_values`` does
    for it. A short cell is converted once and remembered (a status-like choice or a date
    repeated over thousands of rows), in a bounded memory per field.
    """

    #: Remembered values per field, and the longest value remembered.
    MEMO_SIZE = 4096
    MEMO_TEXT = 200

    def __init__(self, definitions: list[dict[str, Any]]) -> None:
        self.definitions = definitions
        self.schema = values_schema(definitions)
        self._fast = {key: _fast_path(field) for key, field in self.schema.fields.items()}
        self.keys = [definition["key"] for definition in definitions]
        self.required = {d["key"] for d in definitions if d.get("required")}
        self._memo: dict[str, dict[tuple[type, Any], tuple[bool, Any]]] = {k: {} for k in self.keys}

    def clean(self, values: dict[str, Any]) -> dict[str, Any]:
        """What ``clean_values(definitions, values)`` returns (or raises)."""
        messages: dict[str, list[str]] = {}
        cleaned: dict[str, Any] = {}
        for key in self.keys:
            if key in values:
                ok, result = self._field(key, values[key])
                if ok:
                    cleaned[key] = result
                else:
                    messages[f"fields.{key}"] = result
            elif key in self.required:
                messages[f"fields.{key}"] = ["Missing data for required field."]
        for key in values:
            if key not in self._memo:
                messages[f"fields.{key}"] = ["Unknown field."]
        if messages:
            raise ValidationError(messages)
        return cleaned

    def merge(self, stored: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
        """What ``merge_fields(definitions, stored, incoming)`` returns (or raises)."""
        unknown = sorted(set(incoming) - set(self.keys))
        if unknown:
            self.clean({key: incoming[key] for key in unknown})  # raises, naming them
        merged = {**stored, **incoming}
        current = {k: v for k, v in merged.items() if k in self._memo and v not in (None, "")}
        kept = {k: v for k, v in stored.items() if k not in self._memo and k not in incoming}
        return {**kept, **self.clean(current)}

    def _field(self, key: str, value: Any) -> tuple[bool, Any]:
        if type(value) is str and value:  # a cell's text, by far the commonest: its own memo
            memo = self._memo[key]
            found = memo.get((str, value))
            if found is not None:
                return found
        value = None if value == "" else value
        # The type is part of the key: True, 1 and 1.0 are equal keys but not equal values.
        memo_key = (type(value), tuple(value) if isinstance(value, list) else value)
        memo = self._memo[key]
        try:
            found = memo.get(memo_key)
            remember = not isinstance(value, str) or len(value) <= self.MEMO_TEXT
        except TypeError:  # not hashable (a dict): checked every time
            found, remember = None, False
        if found is not None:
            return found
        fast = self._fast[key]
        if fast is not None and isinstance(value, str):
            try:
                return fast(value)
            except (ValidationError, ValueError, ArithmeticError):
                pass  # the field itself says what is wrong
        field = self.schema.fields[key]
        try:
            loaded = field.deserialize(value)
            # A text field's serialize is str() of a str: the loaded text itself.
            if not (isinstance(field, fields.String) and isinstance(loaded, str)):
                loaded = field.serialize(key, {key: loaded})
            result: tuple[bool, Any] = (True, loaded)
        except ValidationError as error:
            result = (False, _as_list(error.messages))
        if remember:
            if len(memo) >= self.MEMO_SIZE:
                memo.clear()
            memo[memo_key] = result
        return result


CENT = Decimal("0.01")
PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?", re.ASCII)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _fast_path(field: fields.Field) -> Any:
    """For the commonest well-formed values of a field, what deserialize-then-serialize gives,
    without marshmallow's machinery around it (a third of the time): a function that raises
    when the value is not one it is sure of, so the field itself then judges it."""
    if field.pre_load or field.post_load:
        return None
    validators = list(field.validators)
    if type(field) in (fields.String, fields.Email, fields.Url):

        def text(value: str) -> tuple[bool, Any]:
            for validator in validators:
                validator(value)
            return True, value

        return text
    if type(field) is Money and field.places == CENT and not validators:

        def money(value: str) -> tuple[bool, Any]:
            if not PLAIN_DECIMAL.fullmatch(value):
                raise ValueError(value)
            return True, format(Decimal(value).quantize(CENT, rounding=field.rounding), "f")

        return money
    if type(field) is fields.Date and field.format in (None, "iso"):

        def iso_date(value: str) -> tuple[bool, Any]:
            if not ISO_DATE.fullmatch(value):
                raise ValueError(value)
            day = date.fromisoformat(value)
            for validator in validators:
                validator(day)
            return True, day.isoformat()

        return iso_date
    return None


def _flatten(messages: Any) -> dict[str, list[str]]:
    if isinstance(messages, dict):
        return {str(key): _as_list(value) for key, value in messages.items()}
    return {"_": _as_list(messages)}


def _as_list(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [message for item in value.values() for message in _as_list(item)]
    if isinstance(value, list):
        return [message for item in value for message in _as_list(item)]
    return [str(value)]


def filter_value(definition: dict[str, Any], raw: str) -> Any:
    """Parse a ``field.<key>=<value>`` query value as the field's type (``ValueError`` if not)."""
    kind = definition["type"]
    if kind == "number":
        return float(raw)
    if kind == "money":
        return str(Decimal(raw).quantize(Decimal("0.01")))
    if kind == "checkbox":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError("expected true or false")
        return raw.lower() in ("true", "1")
    return raw
