"""What any request's input must be, whatever the operation: the rules checked once, centrally.

Every API operation's JSON body and query string pass through here (``ApiBlueprint.operation``)
before and after its schema loads them, so no view, schema or database ever sees:

- JSON nested more than ``MAX_JSON_DEPTH`` levels deep (a 400, like any malformed JSON): a
  body of 100,000 ``[`` would otherwise exhaust Python's recursion limit in the parser;
- ``NaN`` and ``Infinity``, which JSON does not have (a 400), or a number too large to be
  finite (a 422);
- text with a control character or a lone surrogate (``cardcrm.common.text``; a 422);
- integers outside the 64-bit signed range (a 422): no database column holds them, and a
  query that fails only when its first row is fetched would cut a streamed answer short;
- in a schema's own integer fields (ids, positions, counts, minutes), integers outside the
  32-bit signed range (a 422): those are ``INTEGER`` columns, which PostgreSQL refuses to
  compare with a larger number. A field over a ``BIGINT`` column (the event feed's cursor)
  says so with ``metadata={"wide": True}``; numbers inside a custom ``fields`` object are kept
  in JSON and get the 64-bit range.

Errors name the field as ``field_messages`` does: the top-level field, led by the path inside
it (``{"statuses": ["1.name: Contains a control character (U+000B); remove it."]}``); a key of
a custom ``fields`` object is named ``fields.<key>``, as the custom field rules name it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import fields as marshmallow_fields

from .errors import BadRequest, Invalid
from .text import control_character_error
from .translate import gettext as _
from .validation_messages import N_, known

#: Deeper JSON is refused before any schema sees it; real requests nest three or four levels.
MAX_JSON_DEPTH = 64
#: The integers any request may carry: what a 64-bit signed column (``BIGINT``) holds.
INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1
#: The integers an ``INTEGER`` column holds: a schema's own integer fields unless "wide".
COLUMN_MIN, COLUMN_MAX = -(2**31), 2**31 - 1
#: Past this many, further bad fields are not reported (the answer stays small).
MAX_REPORTED = 20

# English; translated where an answer is made (``validation_messages.translate_message``).
OUT_OF_RANGE = known(
    N_("Out of range: integers run from %(min)s to %(max)s."), min=INTEGER_MIN, max=INTEGER_MAX
)
OUT_OF_COLUMN_RANGE = known(
    N_("Out of range: this number runs from %(min)s to %(max)s."), min=COLUMN_MIN, max=COLUMN_MAX
)
NOT_FINITE = N_("Not a finite number.")
TOO_DEEP = known(N_("The body is nested more than %(depth)s levels deep."), depth=MAX_JSON_DEPTH)


def parse_json(raw: bytes | str) -> Any:
    """``raw`` as JSON; malformed, non-standard (``NaN``) or too deeply nested JSON is a 400."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError as error:
        raise BadRequest(TOO_DEEP) from error
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BadRequest(_("The body is not valid JSON: %(error)s", error=error)) from error
    if _depth(value) > MAX_JSON_DEPTH:
        raise BadRequest(TOO_DEEP)
    return value


def check_text(value: Any) -> None:
    """Refuse ``value`` (a parsed JSON body or a query's fields) if any string in it, key or
    value, breaks the text rule, or any number is not finite: a 422 naming each field."""
    errors: dict[str, list[str]] = {}
    for path, item in _walk(value):
        message = None
        if isinstance(item, str):
            message = control_character_error(item)
        elif isinstance(item, float) and not math.isfinite(item):
            message = NOT_FINITE
        if message:
            _add(errors, path, message)
        if isinstance(item, Mapping):
            for key in item:
                if isinstance(key, str) and (message := control_character_error(key, of_name=True)):
                    _add(errors, (*path, key), message)
        if len(errors) >= MAX_REPORTED:
            break
    if errors:
        raise Invalid(errors)


def check_integers(
    value: Any, names: Mapping[str, str] | None = None, narrow: Iterable[str] = ()
) -> None:
    """Refuse ``value`` (what a schema loaded) if it holds an integer outside 64 bits, or one
    outside 32 bits directly in a top-level attribute named in ``narrow``: a 422 naming each
    field; ``names`` maps a top-level attribute to the field name clients use."""
    errors: dict[str, list[str]] = {}
    narrow = frozenset(narrow)
    for path, item in _walk(value):
        if isinstance(item, bool) or not isinstance(item, int):
            continue
        message = None
        if not INTEGER_MIN <= item <= INTEGER_MAX:
            message = OUT_OF_RANGE
        elif len(path) == 1 and path[0] in narrow and not COLUMN_MIN <= item <= COLUMN_MAX:
            message = OUT_OF_COLUMN_RANGE
        if message:
            if path and names:
                path = (names.get(str(path[0]), path[0]), *path[1:])
            _add(errors, path, message)
            if len(errors) >= MAX_REPORTED:
                break
    if errors:
        raise Invalid(errors)


def column_integers(schema_fields: Mapping[str, Any]) -> set[str]:
    """The attributes of a schema's integer fields that name an ``INTEGER`` column (all but
    those marked ``metadata={"wide": True}``), for ``check_integers``'s ``narrow``."""
    return {
        field.attribute or name
        for name, field in schema_fields.items()
        if isinstance(field, marshmallow_fields.Integer) and not field.metadata.get("wide")
    }


def _walk(value: Any) -> Iterable[tuple[tuple[Any, ...], Any]]:
    """Every value in ``value`` with its path, depth first, without recursion."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        yield path, item
        if isinstance(item, Mapping):
            stack.extend(((*path, key), inner) for key, inner in reversed(list(item.items())))
        elif isinstance(item, list | tuple):
            stack.extend(
                ((*path, index), inner) for index, inner in reversed(list(enumerate(item)))
            )


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            inner = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in inner)
    return deepest


def _add(errors: dict[str, list[str]], path: tuple[Any, ...], message: str) -> None:
    if not path:
        field, inner = "_", ()
    elif path[0] == "fields" and len(path) > 1 and isinstance(path[1], str):
        field, inner = f"fields.{path[1]}", path[2:]
    else:
        field, inner = str(path[0]), path[1:]
    lead = ".".join(map(str, inner))
    errors.setdefault(field, []).append(f"{lead}: {message}" if lead else message)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
