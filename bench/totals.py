"""Benchmark of the money sums (issue 16): a product's board page (count and sum of the money
field per status) and the yearly outcomes report (cards won and lost, with their values).

Each page is timed through the real app (routing, session cookie or token, the access rule,
the queries, template or JSON) at the main product's 100,000 cards, interleaved with its
*floor*: the same page's aggregate statement, as the app sends it (caught once), replayed on a
raw DBAPI cursor, run A, B, A, B so both see the same machine. Two callers: a member who sees
the whole product and a member limited to own cards. The aim: each page under 150 ms (p50).

    .venv/bin/python -m bench totals --url URL [--runs 30 --warmup 3] [--docs] [--name before]
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cardcrm.core import create_app
from cardcrm.core.auth.models import User
from cardcrm.core.auth.service import create_token
from cardcrm.core.products.models import Membership
from sqlalchemy import event, func, select

from .database import dialect_of, display_url, read_marker
from .generate import PASSWORD
from .timing import interleaved, load_average, summary

AIM_MS = 150.0
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def _callers(app: Any, product_id: int) -> dict[str, User]:
    """A member who sees the whole product and one limited to own cards (neither admin)."""
    with app.app_context():
        session = app.extensions["cardcrm_db"].session()
        try:
            callers = {}
            for name, limited in (("member", False), ("own cards only", True)):
                user = session.scalar(
                    select(User)
                    .join(Membership, Membership.user_id == User.id)
                    .where(Membership.product_id == product_id, ~User.is_admin)
                    .where(Membership.own_cards_only.is_(limited))
                    .order_by(User.id)
                    .limit(1)
                )
                if user is not None:
                    session.expunge(user)
                    callers[name] = user
            return callers
        finally:
            session.close()


def _token(app: Any, user: User) -> str:
    with app.app_context():
        session = app.extensions["cardcrm_db"].session()
        try:
            token, _ = create_token(session, user=session.merge(user), name="bench.totals")
            return token
        finally:
            session.close()


def _logged_in(app: Any, email: str) -> Any:
    client = app.test_client()
    token = CSRF_INPUT.search(client.get("/login").get_data(as_text=True))
    assert token is not None, "no login form"
    answer = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if answer.status_code != 302:
        raise SystemExit(f"could not log in as {email}: {answer.status_code}")
    return client


def _aggregate_of(engine: Any, call: Any) -> tuple[str, Any]:
    """The GROUP BY statement (with its parameters) ``call`` sends: the page's floor."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        unquoted = statement.replace('"', "")
        if "GROUP BY" in statement and ("FROM cards" in unquoted or "card_history" in unquoted):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert sent, "the page sent no aggregate statement"
    return sent[0]


def run(url: str, runs: int = 30, warmup: int = 3, log: Any = print) -> dict[str, Any]:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 32})
    database = app.extensions["cardcrm_db"]
    engine = database.engine
    marker = read_marker(url) or {}
    with app.app_context():
        session = database.session()
        try:
            product_id = marker.get("main_product_id") or 1
            from cardcrm.core.cards.models import Card

            cards = session.scalar(
                select(func.count()).select_from(Card).where(Card.product_id == product_id)
            )
        finally:
            session.close()
    raw = engine.raw_connection()
    if dialect_of(url) == "postgresql":
        raw.driver_connection.autocommit = True
    cursor = raw.cursor()
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "warmup": warmup,
        "data": {"cards": cards},
        "machine": {"load_before": load_average()},
        "aim_ms": AIM_MS,
        "cases": {},
    }
    try:
        for caller, user in _callers(app, product_id).items():
            browser = _logged_in(app, user.email)
            api = app.test_client()
            headers = {"Authorization": f"Bearer {_token(app, user)}"}
            pages = {
                "board": lambda b=browser: b.get(f"/products/{product_id}/board"),
                "outcomes, this year": lambda a=api, h=headers: a.get(
                    f"/api/v1/reports/outcomes?product_id={product_id}&period=this_year",
                    headers=h,
                ),
            }
            for page, get in pages.items():

                def call(get: Any = get, page: str = page) -> None:
                    response = get()
                    if response.status_code != 200:
                        raise RuntimeError(f"{page}: {response.status_code}")

                statement, parameters = _aggregate_of(engine, call)

                def floor(sql: str = statement, args: Any = parameters) -> None:
                    cursor.execute(sql, args)
                    cursor.fetchall()

                log(f"  timing {page!r} as {caller} ...")
                page_ms, floor_ms = interleaved(call, floor, runs, warmup)
                case = {
                    "caller": caller,
                    "page": page,
                    "floor_statement": " ".join(statement.split())[:400],
                    "app": summary(page_ms),
                    "floor": summary(floor_ms),
                }
                case["ratio"] = round(case["app"]["median_ms"] / case["floor"]["median_ms"], 2)
                results["cases"][f"{page} / {caller}"] = case
    finally:
        raw.close()
        database.dispose()
    results["machine"]["load_after"] = load_average()
    return results


def table(results: dict[str, Any], label: str = "") -> str:
    lines = [
        f"Board totals and yearly outcomes{label} on {results['database']}: "
        f"{results['data'].get('cards', 0):,} cards in the product; {results['runs']} "
        f"interleaved runs; times in ms; aim: page under {AIM_MS:.0f} ms",
        "",
        f"{'page':<22}{'caller':<16}{'page med':>9}{'page p95':>10}{'floor med':>11}"
        f"{'floor p95':>11}{'page/floor':>12}",
    ]
    for case in results["cases"].values():
        lines.append(
            f"{case['page']:<22}{case['caller']:<16}{case['app']['median_ms']:>9.1f}"
            f"{case['app']['p95_ms']:>10.1f}{case['floor']['median_ms']:>11.1f}"
            f"{case['floor']['p95_ms']:>11.1f}{case['ratio']:>11.1f}x"
        )
    return "\n".join(lines)
