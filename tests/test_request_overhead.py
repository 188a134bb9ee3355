"""What every request pays around its own work: the JSON encoder, the connection check, the
server's defaults. (How fast is measured by ``bench/overhead.py``, not here.)"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from cardcrm.common.api import dumps
from cardcrm.common.db import get_db
from cardcrm.server import default_threads, default_workers, serve
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import create_engine, text


@dataclass
class Point:
    x: int
    y: int


@pytest.mark.parametrize(
    "value",
    [
        {"name": "Ștefan Țară", "emoji": "☕", "nested": [1, 2.5, None, True, {"a": "b"}]},
        {"when": datetime(2026, 12, 6, 3, 0, tzinfo=UTC), "day": date(2026, 12, 6)},
        {"amount": Decimal("12.50"), "point": Point(1, 2), 3: "three"},
        {"huge": 2**70, "negative_huge": -(2**70)},
        [],
        "text",
    ],
)
@pytest.mark.parametrize("sort_keys", [False, True])
def test_the_json_of_an_answer_reads_as_what_flask_wrote(value, sort_keys):
    if sort_keys and isinstance(value, dict) and 3 in value:
        pytest.skip("Flask's encoder cannot sort keys of mixed types")
    app = Flask(__name__)
    app.json.sort_keys = sort_keys  # core keeps the schemas' order, Flask's default sorts
    with app.app_context():
        fast = dumps(value)
        assert isinstance(fast, bytes)
        assert json.loads(fast) == json.loads(app.json.dumps(value))
        if sort_keys and isinstance(value, dict):
            assert list(json.loads(fast)) == sorted(json.loads(fast))


def test_answers_are_compact_utf_8_in_the_schemas_order(app, admin):
    admin.ok("PATCH", "me", {"name": "Ștefan Țară"})
    answer = admin.get("me")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    raw = answer.get_data()
    assert "Ștefan Țară".encode() in raw  # not \\u escapes
    assert raw.startswith(b'{"id":')  # the schema's order, no spaces
    assert answer.get_json()["name"] == "Ștefan Țară"


@pytest.fixture
def postgres_app(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("pooled PostgreSQL connections")
    return app


def test_a_request_sends_no_ping_query_before_its_own(postgres_app, admin, monkeypatch):
    with postgres_app.app_context():
        dialect = get_db().engine.dialect
    pings: list[Any] = []
    original = dialect.do_ping
    monkeypatch.setattr(
        dialect, "do_ping", lambda connection: pings.append(1) or original(connection)
    )
    for _ in range(3):
        admin.ok("GET", "me")
    assert pings == []


def test_connections_the_server_ended_are_replaced_without_an_error(
    postgres_app, admin, database_url
):
    for _ in range(3):
        admin.ok("GET", "me")  # the pool holds a connection now
    admin_engine = create_engine(database_url)
    with admin_engine.connect() as connection:
        # With a timeout, pg_terminate_backend returns once each backend has exited: the
        # connections *were* ended (a signal still on its way would be a connection that
        # dies during the request, which is a 503 by design).
        ended = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
            )
        ).all()
    admin_engine.dispose()
    assert ended
    for _ in range(3):
        admin.ok("GET", "me")


def test_serve_chooses_one_worker_per_core_and_at_least_two():
    assert default_workers(cores=1) == 2
    assert default_workers(cores=2) == 2
    assert default_workers(cores=8) == 8
    assert default_threads() >= 2
    help_text = CliRunner().invoke(serve, ["--help"]).output
    assert "one per core" in help_text


def _transaction_status(session: Any) -> Any:
    return session.connection().connection.dbapi_connection.info.transaction_status


def test_a_requests_reads_open_no_transaction_and_its_writes_one(postgres_app, admin):
    from cardcrm.common.db import get_session, write_transaction
    from cardcrm.core.auth.models import User
    from psycopg.pq import TransactionStatus
    from sqlalchemy import func, select, update

    with postgres_app.test_request_context("/api/v1/me"):
        session = get_session()
        assert session.scalar(select(func.count(User.id))) == 1
        # No BEGIN was sent, so none has to be rolled back: two round trips fewer.
        assert _transaction_status(session) == TransactionStatus.IDLE
        with pytest.raises(RuntimeError), write_transaction(session):
            session.execute(update(User).values(name="Half-way"))
            assert _transaction_status(session) == TransactionStatus.INTRANS
            raise RuntimeError("the second half failed")
        assert session.scalar(select(User.name)) != "Half-way"  # all or nothing, still
        with write_transaction(session):
            session.execute(update(User).values(name="Renamed"))
        assert session.scalar(select(User.name)) == "Renamed"
    assert admin.ok("GET", "me")["name"] == "Renamed"


def test_a_query_asked_again_reads_as_the_first_time_and_a_refused_one_stays_refused(admin):
    """The Today view and the card list keep what each query string loaded to (their query
    schemas depend on it alone): asked again, each query still gives its own page, and one
    that breaks a rule is refused every time, in the language each request asks for."""
    product = admin.product("sales")
    card = admin.card(product, "Acme")
    year = date.today().year + 1
    for day in (4, 5, 6):
        admin.task(card, f"{year}-01-0{day}T09:00:00Z")
    period = f"from={year}-01-01&to={year}-01-31"
    for _ in range(2):
        for limit in (1, 2, 3):
            page = admin.ok("GET", f"today?{period}&limit={limit}")
            assert len(page["tasks"]) == limit
            assert (page["next_cursor"] is None) == (limit == 3)
            cards = admin.ok("GET", f"products/{product['id']}/cards?limit={limit}&q=acme")
            assert [item["id"] for item in cards["items"]] == [card["id"]]
        assert admin.ok("GET", f"today?{period}&show=due")["totals"]["due"] == 3
        refusals = {
            language: admin.get("today?limit=0", headers={"Accept-Language": language})
            for language in ("ro", "en")
        }
        assert {answer.status_code for answer in refusals.values()} == {422}
        messages = {
            language: answer.get_json()["errors"]["limit"] for language, answer in refusals.items()
        }
        assert messages["ro"] != messages["en"]
        assert admin.get("today?cursor=%00").status_code == 422  # the text rule
        assert admin.get(f"products/{product['id']}/cards?q=").status_code == 422
