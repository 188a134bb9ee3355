"""Many rows in one statement: each value converted as SQLAlchemy converts it, then handed to
the driver's ``executemany`` at once.

``session.execute(insert(Model), rows)`` is the plain way, and the right one for a few rows.
For thousands it spends most of its time on SQLAlchemy's per-row bookkeeping and on values
that are the same in every row (the instant of the write, converted again for each row). Here
the statement is compiled once, each column's own bind processor is taken from its type for the
dialect (``UTCDateTime`` to UTC, JSON to text, booleans...), the last value of each column is
remembered (a constant is converted once), and the rows go to ``exec_driver_sql`` as one
``executemany`` in the caller's transaction. What reaches the database is exactly what the
plain way would send.

A JSON value may also be given as ``JsonText``, text already made by ``json.dumps`` (the JSON
type's serializer), so that a payload written into two tables is serialized once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import JSON, FromClause, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["JsonText", "execute_many", "json_rows", "json_text", "reserve_ids"]


class JsonText(str):
    """A JSON value already serialized with ``json.dumps``, as the JSON column type would."""

    __slots__ = ()


def json_text(value: Any) -> JsonText:
    """``json.dumps(value)``, the same text, in half its time for a small dict: the encoder
    ``json.dumps`` would make (C, default options) is made once, not on each call. Without
    ``check_circular``: a value read from a file or a row holds no cycle."""
    return JsonText("".join(_ENCODE(value, 0)))


def json_rows(rows: Iterable[tuple[Sequence[Any], str]]) -> str:
    """Rows for one statement's parameter, as a JSON array of arrays: each row's values (at
    least one), then its last value as JSON text already made (``json_text``), put in as it is.

    PostgreSQL reads them with ``json_array_elements``, and ``->`` gives the last value's text
    unchanged, so a payload is stored as the text it was serialized to once. One text
    parameter also costs psycopg less than an array per column: each array of text was
    escaped character by character."""
    return "[" + ",".join(f"{json_text(list(values))[:-1]},{last}]" for values, last in rows) + "]"


def _json_encoder() -> Callable[[Any, int], Any]:
    """json.dumps's own C encoder, with json.dumps's defaults but ``check_circular``, made once
    (``json.dumps`` itself if this Python's encoder takes other arguments)."""
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    plain = json.JSONEncoder()
    try:
        encode = make(
            None, plain.default, json.encoder.encode_basestring_ascii, None, ": ", ", ",
            False, False, True,
        )  # fmt: skip
        sample = {"a": [1, 2.5, None, True], "é": "\u2028"}
        if "".join(encode(sample, 0)) == json.dumps(sample):
            return cast(Callable[[Any, int], Any], encode)
    except TypeError:
        pass
    return lambda value, _level: (json.dumps(value),)


_ENCODE = _json_encoder()


Converter = Callable[[Any], Any]
#: Converts a column's values (a list) for the driver.
ColumnConverter = Callable[[list[Any]], list[Any]]


def execute_many(
    session: Session, statement: ClauseElement, rows: Sequence[dict[str, Any]]
) -> None:
    """Run ``statement`` once per row of ``rows`` (dicts keyed by the statement's parameter
    names; an ``insert(table)`` takes the column names, and every row must give every column
    the first row gives) in the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(rows[0]))
    assert isinstance(compiled, SQLCompiler)
    names = list(compiled.positiontup or compiled.binds)
    missing = set(names) - set(rows[0])
    if missing:
        raise ValueError(f"the rows give no value for {sorted(missing)}")
    # Column by column: each column's values taken and converted in one pass, then zipped
    # into rows (the per-row Python of the plain way is most of its cost).
    columns: list[list[Any]] = []
    for name in names:
        column = list(map(itemgetter(name), rows))
        convert = _converter(compiled.binds[name].type, dialect)
        columns.append(column if convert is None else convert(column))
    parameters: list[Any] = list(zip(*columns, strict=True))
    if not compiled.positional:
        parameters = [dict(zip(names, values, strict=True)) for values in parameters]
    connection.exec_driver_sql(compiled.string, parameters)


def reserve_ids(session: Session, table: FromClause, count: int) -> list[int]:
    """``count`` new ids of ``table``'s integer primary key, to insert rows with.

    PostgreSQL hands them out from the column's sequence (never twice, even if this
    transaction rolls back). SQLite has no sequence: the ids follow the largest one in the
    table, which is safe because the caller's write transaction holds SQLite's write lock
    (nobody else inserts until it commits) — the ids SQLite itself would have given.
    """
    if count <= 0:
        return []
    (column,) = list(table.primary_key)
    if session.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(getattr(table, "name", ""), column.name)
        query = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        return list(session.scalars(query))
    if not session.connection().get_execution_options().get("write"):
        raise RuntimeError("SQLite ids are reserved inside a write transaction only")
    last = int(session.scalar(select(func.coalesce(func.max(column), 0))) or 0)
    return list(range(last + 1, last + 1 + count))


def _converter(column_type: Any, dialect: Any) -> ColumnConverter | None:
    # The dialect's implementation, as SQLAlchemy uses at execution (the generic type's
    # processor would skip e.g. SQLite's own datetime text).
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    if isinstance(column_type, JSON):
        return _json_converter(process)
    return _remembering(process)


def _remembering(process: Converter) -> ColumnConverter:
    """``process`` for each value of a column, converting a value it has just converted only
    once (the same instant in every row of a write)."""

    def convert(values: list[Any]) -> list[Any]:
        if len(set(map(id, values))) == 1:  # one object throughout
            return [process(values[0])] * len(values)
        last: Any = object()
        result: Any = None
        converted = []
        for value in values:
            if value is not last:
                last, result = value, process(value)
            converted.append(result)
        return converted

    return convert


def _json_converter(process: Converter) -> ColumnConverter:
    def convert(values: list[Any]) -> list[Any]:
        # Text already serialized goes as it is; PostgreSQL casts it (the statement says
        # ``::JSON``) and SQLite stores it, as the processor's own output.
        return [str(value) if type(value) is JsonText else process(value) for value in values]

    return convert
