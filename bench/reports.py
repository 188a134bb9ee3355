"""Benchmark of the reports' API (``GET /api/v1/reports/...``) on a generated database.

``python -m bench.reports --url URL [--runs 30]`` on a database made by ``python -m bench
generate``. Each report is asked through the real Flask app (test client, bearer token:
routing, token, scope, queries, JSON) by the admin and by a member limited to own cards in the
main product, for the main product and for the team, with this month and this year. Prints
the median and 95th percentile per request, and with ``--explain`` the query plans
(PostgreSQL: ``EXPLAIN (ANALYZE, BUFFERS)``) of the admin's yearly team statements.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from cardcrm.common.db import get_db, write_transaction
from cardcrm.core import create_app
from cardcrm.core.auth.models import ApiToken, User
from cardcrm.core.auth.service import create_token
from cardcrm.core.products.models import Membership, Product
from flask import Flask
from sqlalchemy import delete, event, select, text

REPORTS = ("funnel", "outcomes", "tasks-closed", "overdue")
PERIODS = ("this_month", "this_year")


def _tokens(app: Flask) -> tuple[dict[str, str], int, list[int]]:
    """Tokens of the admin and of a member limited to own cards in the main product."""
    with app.app_context():
        session = get_db().session()
        try:
            main = session.scalars(select(Product).order_by(Product.id)).first()
            assert main is not None, "an empty database: run python -m bench generate first"
            admin = session.scalars(select(User).where(User.is_admin).order_by(User.id)).first()
            limited = session.scalars(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.product_id == main.id, Membership.own_cards_only)
                .order_by(User.id)
            ).first()
            tokens, ids = {}, []
            for name, user in (("admin", admin), ("own cards only", limited)):
                if user is not None:
                    token, row = create_token(session, user=user, name="bench.reports")
                    tokens[name] = token
                    ids.append(row.id)
            return tokens, main.id, ids
        finally:
            session.close()


def _forget(app: Flask, ids: list[int]) -> None:
    with app.app_context():
        session = get_db().session()
        try:
            with write_transaction(session):
                session.execute(delete(ApiToken).where(ApiToken.id.in_(ids)))
        finally:
            session.close()


def _time(client: Any, path: str, token: str, runs: int) -> tuple[float, float]:
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for index in range(runs + 3):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.get_json())
        if index >= 3:  # warm-up
            timings.append(elapsed)
    timings.sort()
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.95) - 1)]


def _explain(app: Flask, client: Any, token: str) -> None:
    """The plans of the statements the admin's yearly team reports send (PostgreSQL)."""
    engine = get_db_engine(app)
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "users" not in statement[:80]:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        for report in REPORTS:
            client.get(
                f"/api/v1/reports/{report}?period=this_year",
                headers={"Authorization": f"Bearer {token}"},
            )
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    with engine.connect() as connection:
        for statement, parameters in sent:
            if "GROUP BY" not in statement:
                continue
            raw = connection.connection.driver_connection
            with raw.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print("\n" + statement.split("FROM")[0][:160].replace("\n", " ") + " ...")
            print(plan)


def get_db_engine(app: Flask) -> Any:
    with app.app_context():
        return get_db().engine


def run(url: str, runs: int, explain: bool) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    tokens, main_id, ids = _tokens(app)
    client = app.test_client()
    try:
        with app.app_context():
            engine = get_db().engine
            with engine.connect() as connection:
                cards = connection.execute(text("SELECT count(*) FROM cards")).scalar()
                tasks = connection.execute(text("SELECT count(*) FROM tasks")).scalar()
                history = connection.execute(text("SELECT count(*) FROM card_history")).scalar()
        print(f"{engine.dialect.name}: {cards} cards, {tasks} tasks, {history} history rows")
        print(f"{'caller':16} {'subject':8} {'report':13} {'period':11} {'median':>8} {'p95':>8}")
        for caller, token in tokens.items():
            for subject in ("product", "team"):
                for report in REPORTS:
                    periods = PERIODS if report in ("outcomes", "tasks-closed") else ("now",)
                    for period in periods:
                        query = [f"product_id={main_id}"] if subject == "product" else []
                        if period != "now":
                            query.append(f"period={period}")
                        path = f"/api/v1/reports/{report}?{'&'.join(query)}"
                        median, p95 = _time(client, path, token, runs)
                        print(
                            f"{caller:16} {subject:8} {report:13} {period:11}"
                            f" {median:7.1f}ms {p95:7.1f}ms"
                        )
        if explain and engine.dialect.name == "postgresql":
            _explain(app, client, tokens["admin"])
    finally:
        _forget(app, ids)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of a generated database")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    args = parser.parse_args()
    run(args.url, args.runs, args.explain)


if __name__ == "__main__":
    main()
