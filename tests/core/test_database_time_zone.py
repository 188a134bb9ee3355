"""Instants are UTC whatever time zone the PostgreSQL server is set to."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cardcrm.common.db import UTCDateTime, make_engine
from sqlalchemy import cast, literal, select
from sqlalchemy.engine import make_url


def test_a_server_set_to_another_zone_gives_the_same_utc_instants(database_url):
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("SQLite keeps instants as UTC text: there is no session time zone")
    # The server's own setting, as a server configured for Romania would have it.
    url = make_url(database_url).update_query_dict({"options": "-c TimeZone=Europe/Bucharest"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
            stored = cast(literal("2026-03-29 00:30:00+00"), UTCDateTime())
            value = connection.execute(select(stored)).scalar_one()
            # ``datetime.UTC`` itself, as ``UTCDateTime`` gives on every database.
            assert value == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
            assert value.tzinfo is UTC
            day = connection.exec_driver_sql(
                "SELECT CAST(CAST('2026-03-29 23:30:00+00' AS timestamptz) AS date)"
            ).scalar_one()
            assert day.isoformat() == "2026-03-29"  # 02:30 the next day in Bucharest
    finally:
        engine.dispose()
