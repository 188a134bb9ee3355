"""Bulk loading of row dicts: each value converted as SQLAlchemy converts it, then handed to
the driver in bulk.

A plain ``connection.execute(insert(table), rows)`` spends most of its time on SQLAlchemy's
per-row bookkeeping. Here each value goes through its column type's own bind processor (the
dialect's implementation, as at execution: ``UTCDateTime`` to UTC, JSON to text, booleans...),
then the rows go to the driver at once: ``executemany`` of the compiled ``insert(table)`` in
batches on SQLite, run in a writer thread so that SQLite fills its B-trees while Python builds
the next batch, and ``COPY ... FROM STDIN`` on PostgreSQL. One transaction per table.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from cardcrm.common.db import UTCDateTime
from sqlalchemy import Engine, Table, insert, text

BATCH = 10_000
#: Page cache of the loading connection, so the indexes being filled stay in memory.
SQLITE_LOAD_CACHE_KIB = 1_000_000
#: Rows whose fast conversions are compared with SQLAlchemy's own processors.
CHECKED_ROWS = 1_000

Converter = Callable[[Any], Any]


def insert_rows(engine: Engine, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Insert ``rows`` (dicts with the same keys: every column to set) into ``table``."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    dialect = engine.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=list(first))
    # The statement's parameter order (the table's column order), which the tuples follow.
    names = list(compiled.positiontup or [col.name for col in table.c if col.name in first])
    if set(names) != set(first):
        raise ValueError(f"{table.name}: the rows give {sorted(first)}, the insert takes {names}")
    real = [_processor(table.c[name].type, dialect) for name in names]
    fast = [
        _fast_processor(table.c[name].type, dialect) or proc
        for name, proc in zip(names, real, strict=True)
    ]
    convert, check = _converter(fast), _converter(real)
    checked = CHECKED_ROWS if any(f is not r for f, r in zip(fast, real, strict=True)) else 0

    def values(row: dict[str, Any], number: int) -> list[Any]:
        result = convert([row[name] for name in names])
        if number < checked and result != (expected := check([row[name] for name in names])):
            raise AssertionError(f"{table.name}: fast conversion {result} != {expected}")
        return result

    numbered = enumerate(itertools.chain((first,), rows))
    if dialect.name == "postgresql":
        return _copy(engine, table, names, (values(row, number) for number, row in numbered))
    return _executemany(engine, str(compiled), (values(row, number) for number, row in numbered))


@contextmanager
def indexes_deferred(engine: Engine, tables: list[str]) -> Iterator[None]:
    """Drop the secondary indexes of ``tables`` (and on PostgreSQL their foreign keys) and
    make them again from their own DDL after the load.

    Building an index from all the rows beats a million random B-tree inserts, and checking a
    foreign key once for the whole table beats PostgreSQL's trigger per inserted row (SQLite's
    per-row check is a cheap lookup and stays). Primary keys and unique constraints stay. The
    schema is compared before and after, so it ends exactly as the migrations made it.
    """
    before = _definitions(engine, tables)
    indexes, keys = before
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as connection:
        for table, name in keys:
            connection.exec_driver_sql(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        for name in indexes:
            connection.exec_driver_sql(f"DROP INDEX {quote(name)}")
    yield
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        for definition in indexes.values():
            connection.exec_driver_sql(definition)
        for (table, name), definition in keys.items():
            connection.exec_driver_sql(
                f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
            )
    if (after := _definitions(engine, tables)) != before:
        raise AssertionError(f"the schema differs after the load: {before} != {after}")


def _definitions(
    engine: Engine, tables: list[str]
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """The secondary indexes of ``tables`` and (PostgreSQL only) their foreign keys."""
    if engine.dialect.name != "postgresql":
        return _index_definitions(engine, tables), {}
    query = text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace "
        "AND conrelid::regclass::text = ANY(:tables)"
    )
    with engine.connect() as connection:
        rows = connection.execute(query, {"tables": tables}).tuples()
        keys = {(table, name): definition for table, name, definition in sorted(rows)}
    return _index_definitions(engine, tables), keys


def _index_definitions(engine: Engine, tables: list[str]) -> dict[str, str]:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = text(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = ANY(:tables) "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            )
        else:
            # Indexes SQLite makes itself (primary keys, UNIQUE) have no SQL and are kept.
            query = text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name IN (SELECT value FROM json_each(:tables)) AND sql IS NOT NULL"
            )
            tables = json.dumps(tables)
        return dict(sorted(tuple(row) for row in connection.execute(query, {"tables": tables})))


def _processor(column_type: Any, dialect: Any) -> Converter | None:
    # The dialect's implementation, as SQLAlchemy uses at execution (the generic type's
    # processor would skip e.g. SQLite's fixed-width datetime text).
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _fast_processor(column_type: Any, dialect: Any) -> Converter | None:
    """A quicker equivalent of a hot processor (checked against the real one)."""
    if isinstance(column_type, UTCDateTime) and dialect.name == "sqlite":
        return _sqlite_utc_text
    return None


def _sqlite_utc_text(value: datetime | None) -> str | None:
    # What UTCDateTime + SQLite's DATETIME write: naive UTC, always with microseconds.
    if value is None:
        return None
    if value.tzinfo is UTC:  # the generator's instants: cut "+00:00" off instead of replace()
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; give a time zone")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _converter(processors: list[Converter | None]) -> Callable[[list[Any]], list[Any]]:
    active = [(index, proc) for index, proc in enumerate(processors) if proc is not None]

    def convert(values: list[Any]) -> list[Any]:
        for index, proc in active:
            values[index] = proc(values[index])
        return values

    return convert


def _executemany(engine: Engine, statement: str, rows: Iterator[list[Any]]) -> int:
    count = 0
    with engine.begin() as connection, ThreadPoolExecutor(max_workers=1) as writer:
        connection.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_LOAD_CACHE_KIB}")
        pending: Future | None = None
        for batch in _batches(rows):
            if pending is not None:
                pending.result()
            pending = writer.submit(connection.exec_driver_sql, statement, batch)
            count += len(batch)
        if pending is not None:
            pending.result()
    return count


def _copy(engine: Engine, table: Table, names: list[str], rows: Iterator[list[Any]]) -> int:
    quote = engine.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    count = 0
    with engine.begin() as connection:
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {quote(table.name)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def _batches(rows: Iterator[list[Any]]) -> Iterator[list[tuple[Any, ...]]]:
    batch = []
    for row in rows:
        batch.append(tuple(row))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
