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
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, FromClause, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["JsonText", "execute_many", "json_text", "reserve_ids"]


class JsonText(str):
    """A JSON value already serialized with ``json.dumps``, as the JSON column type would."""

    __slots__ = ()


def json_text(value: Any) -> JsonText:
    return JsonText(json.dumps(value))


Converter = Callable[[Any], Any]


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
    converters = [_converter(compiled.binds[name].type, dialect) for name in names]
    active = [(index, convert) for index, convert in enumerate(converters) if convert is not None]
    take = itemgetter(*names)

    def values(row: dict[str, Any]) -> tuple[Any, ...]:
        found = take(row)
        if len(names) == 1:
            found = (found,)
        if not active:
            return tuple(found)
        result = list(found)
        for index, convert in active:
            result[index] = convert(result[index])
        return tuple(result)

    if compiled.positional:
        parameters: list[Any] = [values(row) for row in rows]
    else:
        parameters = [dict(zip(names, values(row), strict=True)) for row in rows]
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


def _converter(column_type: Any, dialect: Any) -> Converter | None:
    # The dialect's implementation, as SQLAlchemy uses at execution (the generic type's
    # processor would skip e.g. SQLite's own datetime text).
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    if isinstance(column_type, JSON):
        return _json_converter(process)
    return _remembering(process)


def _remembering(process: Converter) -> Converter:
    """``process`` that converts a value it has just converted only once (the same instant
    in every row of a write)."""
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is last[0]:
            return last[1]
        result = process(value)
        last[0], last[1] = value, result
        return result

    return convert


def _json_converter(process: Converter) -> Converter:
    def convert(value: Any) -> Any:
        # Text already serialized goes as it is; PostgreSQL casts it (the statement says
        # ``::JSON``) and SQLite stores it, as the processor's own output.
        return str(value) if type(value) is JsonText else process(value)

    return convert
