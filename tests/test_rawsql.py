"""``cardcrm.common.rawsql``: the hot reads run on the driver's cursor must read what
SQLAlchemy's execution reads, be seen by statement listeners, and fail as it fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cardcrm.common import rawsql
from cardcrm.common.db import make_engine
from cardcrm.core.auth.models import ApiToken, User
from sqlalchemy import (
    String,
    bindparam,
    cast,
    delete,
    event,
    exc,
    func,
    insert,
    literal,
    select,
    text,
)

CREATED = datetime(2026, 3, 29, 0, 30, 15, 120000, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Any:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(delete(ApiToken))
        connection.execute(delete(User))
        for number, admin in ((1, True), (2, False), (3, False)):
            connection.execute(
                insert(User).values(
                    id=number,
                    email=f"user{number}@example.com",
                    name=f"Ana Ștefănescu {number}",
                    password_hash="x",
                    timezone="Europe/Bucharest",
                    language="ro" if number == 2 else None,
                    is_admin=admin,
                    created_at=CREATED + timedelta(days=number),
                )
            )
            connection.execute(
                insert(ApiToken).values(
                    token_hash=f"hash-{number}",
                    user_id=number,
                    created_at=CREATED,
                    expires_at=CREATED + timedelta(hours=number) if number != 3 else None,
                    scopes=["today:read", {"nested": [1, 2.5, None]}] if number == 1 else None,
                )
            )
    yield engine
    engine.dispose()


#: Every kind of value the hot reads return: integers, text, booleans, instants through the
#: project's ``UTCDateTime``, JSON, NULLs, a value bound by the statement itself, a value
#: SQLAlchemy writes into the SQL when it runs it (``aggregate_strings``' separator) and an
#: instant bound by the caller (its bind processing: SQLite's instants are text).
STATEMENT = (
    select(
        User.id,
        User.name,
        User.language,
        User.is_admin,
        User.created_at,
        ApiToken.expires_at,
        ApiToken.scopes,
        literal("ține").label("constant"),
        select(func.aggregate_strings(cast(ApiToken.id, String), ";"))
        .where(ApiToken.created_at <= bindparam("moment", type_=User.created_at.type))
        .scalar_subquery()
        .label("all_tokens"),
    )
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(User.created_at > bindparam("moment", type_=User.created_at.type))
    .order_by(User.id)
)


def test_rows_are_what_sqlalchemy_reads(engine):
    parameters = {"moment": CREATED}
    with engine.connect() as connection:
        expected = [tuple(row) for row in connection.execute(STATEMENT, parameters)]
        rows = rawsql.execute(connection, STATEMENT, parameters)
    assert [tuple(row) for row in rows] == expected
    assert len(rows) == 3
    first = rows[0]
    assert first.is_admin is True and rows[1].is_admin is False
    assert first.created_at == CREATED + timedelta(days=1)
    assert first.created_at.tzinfo is not None
    assert first.scopes == ["today:read", {"nested": [1, 2.5, None]}]
    assert rows[2].expires_at is None and rows[2].scopes is None
    assert first.constant == "ține"
    assert sorted(first.all_tokens.split(";")) == sorted(
        str(token_id) for token_id in _token_ids(engine)
    )
    assert first[1] == "Ana Ștefănescu 1" and first[1:3] == ("Ana Ștefănescu 1", None)


def test_a_bound_instant_selects_as_it_does_through_sqlalchemy(engine):
    """The caller's instant goes through the column type's bind processing."""
    later = {"moment": CREATED + timedelta(days=2)}
    with engine.connect() as connection:
        rows = rawsql.execute(connection, STATEMENT, later)
        assert [row.id for row in rows] == [3]
        assert rawsql.first(connection, STATEMENT, {"moment": CREATED + timedelta(days=9)}) is None


def test_listeners_see_the_sql_and_the_drivers_parameters(engine):
    seen: list[tuple[str, str, Any]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(("before", statement, parameters))

    def after(conn, cursor, statement, parameters, context, executemany):
        seen.append(("after", statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        with engine.connect() as connection:
            rawsql.execute(connection, STATEMENT, {"moment": CREATED})
            connection.execute(STATEMENT, {"moment": CREATED})
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    mine = [entry for entry in seen if "api_tokens" in entry[1]]
    assert [kind for kind, *_ in mine] == ["before", "after", "before", "after"]
    # The same SQL and the same values as SQLAlchemy's own execution sends.
    assert mine[0][1] == mine[2][1]
    assert list(_values(mine[0][2])) == list(_values(mine[2][2]))


def _values(parameters: Any) -> Any:
    return parameters.values() if isinstance(parameters, dict) else parameters


def test_a_driver_error_is_sqlalchemys_error_of_its_kind(engine):
    broken = (
        select(User.id)
        .where(User.id == bindparam("user_id"))
        .add_columns(
            (User.id / (User.id - User.id)).label("nothing")  # 1 / 0
        )
    )
    bad_table = select(text("1 FROM no_such_table"))  # type: ignore[arg-type]
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            with pytest.raises(exc.DataError) as raised:
                rawsql.execute(connection, broken, {"user_id": 1})
            assert "division by zero" in str(raised.value.orig)
            connection.rollback()
        with pytest.raises((exc.OperationalError, exc.ProgrammingError)) as raised:
            rawsql.execute(connection, bad_table, {})
        assert "no_such_table" in str(raised.value)
        assert not raised.value.connection_invalidated


def test_a_lost_connection_is_invalidated_and_the_next_one_works(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("a SQLite connection is a file: it cannot be cut from the other end")
    with engine.connect() as connection:
        pid = rawsql.first(connection, select(func.pg_backend_pid().label("pid")), {}).pid
        connection.rollback()
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(exc.DBAPIError) as raised:
            rawsql.execute(connection, STATEMENT, {"moment": CREATED})
        assert raised.value.connection_invalidated
        assert connection.invalidated
    with engine.connect() as connection:
        assert len(rawsql.execute(connection, STATEMENT, {"moment": CREATED})) == 3


def test_a_statement_with_an_in_list_bound_at_run_time_is_refused(engine):
    statement = select(User.id).where(User.id.in_(bindparam("ids", expanding=True)))
    with engine.connect() as connection, pytest.raises(ValueError, match="expanding"):
        rawsql.execute(connection, statement, {"ids": [1, 2]})


def _token_ids(engine: Any) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(select(ApiToken.id)))


def test_json_columns_read_the_values_json_would(engine):
    """JSON columns are parsed by orjson (``db.json_loads``), which reads an integer past 64
    bits as a float and refuses ``NaN``: those texts are read by ``json``, as before."""
    scopes = [123456789012345678901234567890, -9223372036854775809, 1.5, "ș", {"k": None}]
    with engine.begin() as connection:
        connection.execute(ApiToken.__table__.update().values(scopes=scopes))
    statement = select(ApiToken.scopes).order_by(ApiToken.id)
    with engine.connect() as connection:
        assert [row.scopes for row in rawsql.execute(connection, statement, {})] == [scopes] * 3
        assert list(connection.scalars(statement)) == [scopes] * 3
