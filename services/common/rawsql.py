"""The few reads every request makes, run on the driver's cursor: SQL compiled once, no
execution context around it.

SQLAlchemy's execution of an already compiled statement adds Python work to the driver's own
(an execution context, a result and its metadata, and psycopg's ``description`` turned into
column objects for every result). The token check, which every request makes, the card list's
page and the Today view's two statements are cheap for the database, so that work was a large
part of a request: in process on PostgreSQL, a kept card list took 0.96 ms of CPU and 0.73
with this module, a made Today view 3.3 and 2.5. ``execute`` runs such a statement's SQL,
compiled by SQLAlchemy once per dialect, on a cursor of the same pooled connection (so in the
same transaction) and turns each column with the same type's result processor SQLAlchemy
would use.

What stays as with ``Connection.execute``:

- the statement runs in the connection's transaction, begun first if it was not (as
  ``Connection.execute`` begins one), so it ends by SQLAlchemy's commit or rollback;
- the SQL and the parameters the driver gets are the same (the statement's own bound values
  included), so psycopg prepares it the same way after a few runs;
- ``before_cursor_execute`` and ``after_cursor_execute`` listeners are called with them
  (``context`` is ``None``; a listener's return value is not used), so statement counts in
  tests and benchmarks see these statements;
- a driver error is raised as SQLAlchemy's ``DBAPIError`` of the same kind, and one that says
  the connection is lost invalidates it, so the pool makes a new one (a 503 for the request).

Rows are named tuples of the statement's column keys: indexes, slices and attributes work as on
SQLAlchemy's rows (``_mapping`` does not). Statements with expanding parameters (``IN`` lists
bound at run time) do not qualify: ``compiled`` refuses them when it first sees them.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Select

#: Statements compiled per process (they are module-level constants: a handful).
LIMIT = 256


@dataclass
class Compiled:
    """A statement's SQL for one dialect, and how values go in and come out."""

    statement: Select[Any]  # kept referenced: its id() is the cache key
    sql: str
    #: The parameters' names in their order for a positional driver (SQLite), else ``None``.
    positions: tuple[str, ...] | None
    construct: Callable[..., Any]
    #: Values written into ``sql`` (not sent), by name.
    inline: tuple[str, ...]
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    row: Any  # a named tuple class
    #: Each column's result processor, by index: made at the first run, from the driver's
    #: description of the columns (some types need it, as in SQLAlchemy).
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None

    def processors(self, dialect: Dialect, description: Any) -> tuple[Any, ...]:
        if self.results is None:
            results = []
            for index, column in enumerate(self.statement.selected_columns):
                impl = column.type.dialect_impl(dialect)
                process = impl.result_processor(dialect, description[index][1])
                if process is not None:
                    results.append((index, process))
            self.results = tuple(results)
        return self.results


_compiled: dict[tuple[int, str], Compiled] = {}
_lock = threading.Lock()


def compiled(statement: Select[Any], dialect: Dialect) -> Compiled:
    """``statement`` compiled for ``dialect``, once per process."""
    key = (id(statement), dialect.name)
    found = _compiled.get(key)
    if found is not None and found.statement is statement:
        return found
    made = _compile(statement, dialect)
    with _lock:
        if len(_compiled) >= LIMIT:
            _compiled.clear()
        _compiled[key] = made
    return made


def _compile(statement: Select[Any], dialect: Dialect) -> Compiled:
    compiled = statement.compile(dialect=dialect)
    sql = compiled.string
    # A value SQLAlchemy writes into the SQL when it runs it (``aggregate_strings``'
    # separator) is written in here, once: it is the statement's own, never the caller's.
    inline = set()
    for parameter in compiled.literal_execute_params:
        if parameter.expanding or parameter.callable is not None:
            raise ValueError("rawsql runs no statement with expanding parameters")
        name = compiled.bind_names[parameter]
        literal = compiled.render_literal_value(parameter.effective_value, parameter.type)
        sql = sql.replace(f"__[POSTCOMPILE_{name}]", literal)
        inline.add(name)
    if "__[POSTCOMPILE_" in sql:
        raise ValueError("rawsql runs no statement with expanding parameters")
    binds = []
    for name, parameter in compiled.binds.items():
        process = parameter.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds.append((name, process))
    keys = list(statement.selected_columns.keys())
    return Compiled(
        statement=statement,
        sql=sql,
        positions=(
            tuple(name for name in compiled.positiontup or () if name not in inline)
            if compiled.positional
            else None
        ),
        construct=compiled.construct_params,
        inline=tuple(sorted(inline)) if not compiled.positional else (),
        binds=tuple(binds),
        row=namedtuple("Row", keys, rename=True),
    )


def execute(
    connection: Connection, statement: Select[Any], parameters: dict[str, Any]
) -> list[Any]:
    """All rows of ``statement`` with ``parameters``, read on ``connection``'s cursor."""
    dialect = connection.dialect
    plan = compiled(statement, dialect)
    values = plan.construct(parameters)
    for name in plan.inline:
        del values[name]
    for name, process in plan.binds:
        values[name] = process(values[name])
    driver_parameters: Sequence[Any] | dict[str, Any] = (
        values if plan.positions is None else tuple(values[name] for name in plan.positions)
    )
    if not connection.in_transaction():
        connection.begin()  # as ``Connection.execute`` begins one: its end is SQLAlchemy's
    dispatch = connection.dispatch
    cursor = connection.connection.cursor()
    try:
        for listener in dispatch.before_cursor_execute:
            listener(connection, cursor, plan.sql, driver_parameters, None, False)
        try:
            cursor.execute(plan.sql, driver_parameters)
            raw_rows = cursor.fetchall()
            results = plan.results
            if results is None:
                results = plan.processors(dialect, cursor.description)
        except dialect.loaded_dbapi.Error as error:
            _raise(connection, cursor, plan.sql, driver_parameters, error)
        for listener in dispatch.after_cursor_execute:
            listener(connection, cursor, plan.sql, driver_parameters, None, False)
    finally:
        cursor.close()
    make = plan.row._make
    if not results:
        return [make(row) for row in raw_rows]
    rows = []
    for raw in raw_rows:
        values_out = list(raw)
        for index, process in results:
            values_out[index] = process(values_out[index])
        rows.append(make(values_out))
    return rows


def first(connection: Connection, statement: Select[Any], parameters: dict[str, Any]) -> Any:
    """The first row of ``statement`` (``None`` if it has none)."""
    rows = execute(connection, statement, parameters)
    return rows[0] if rows else None


def _raise(connection: Connection, cursor: Any, sql: str, parameters: Any, error: Any) -> None:
    """Raise ``error`` as ``Connection.execute`` would: wrapped in SQLAlchemy's exception of
    its kind, the connection invalidated first when the driver says it is lost."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if lost:
        connection.invalidate(error)
    raise exc.DBAPIError.instance(
        sql,
        parameters,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    ) from error
