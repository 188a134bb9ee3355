"""Benchmark of the web UI's heaviest pages: the Today view and a product's first page of cards.

Server time through the real Flask app (test client: routing, session cookie, queries,
templates), on the data ``bench.generate`` makes (100,000 cards in the main product by
default). Run ``python -m bench.web`` (generates the database first unless it already holds
data of the sizes asked for); the aim is a median under 50 ms for each page.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from typing import Any

from cardcrm.core import create_app
from cardcrm.core.auth.models import User
from cardcrm.core.tasks.models import Task
from sqlalchemy import func, select

from . import report
from .__main__ import _size_options, _sizes
from .cards import measure
from .database import DEFAULT_SQLITE_URL, dialect_of, display_url, is_generated, read_marker
from .generate import PASSWORD, generate

AIM_MS = 50.0
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def run(url: str, runs: int, warmup: int, log: Any = print) -> dict[str, Any]:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    database = app.extensions["cardcrm_db"]
    marker = read_marker(url) or {}
    with app.app_context():
        session = database.session()
        try:
            # The busiest person: the most open tasks, so the fullest Today view.
            user_id = session.scalar(
                select(Task.assignee_id)
                .where(Task.status == "open", Task.assignee_id.is_not(None))
                .group_by(Task.assignee_id)
                .order_by(func.count().desc())
                .limit(1)
            )
            user = session.get(User, user_id)
            email = user.email
            open_tasks = session.scalar(
                select(func.count()).where(Task.assignee_id == user_id, Task.status == "open")
            )
        finally:
            session.close()
    product_id = marker.get("main_product_id", 1)
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = CSRF_INPUT.search(login_page).group(1)
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    if answer.status_code != 302:
        raise SystemExit(f"could not log in as {email}: {answer.status_code}")

    def page(path: str) -> Any:
        def call() -> None:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code}")

        return call

    pages = {
        "today": "/",
        "product_first_page": f"/products/{product_id}",
        "board": f"/products/{product_id}/board",
        # The card list sorted by its column headers (``?sort=``; docs/web.md).
        **{
            f"list_sort_{sort}": f"/products/{product_id}?sort={sort}"
            for sort in ("title", "-updated", "status", "owner", "-next_task", "field.value")
        },
    }
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "warmup": warmup,
        "data": marker.get("counts", {}),
        "user_open_tasks": open_tasks,
        "product_id": product_id,
        "cases": {},
    }
    try:
        for name, path in pages.items():
            log(f"  timing {name} ({path}) ...")
            results["cases"][name] = {"path": path, **measure(page(path), runs, warmup)}
    finally:
        database.dispose()
    return results


def table(results: dict[str, Any]) -> str:
    data = results["data"]
    lines = [
        f"Web UI benchmark on {results['database']}: {data.get('cards', 0):,} cards, "
        f"{data.get('tasks', 0):,} tasks; the user has {results['user_open_tasks']:,} open tasks",
        f"{results['runs']} timed runs after {results['warmup']} warm-up; server time in ms",
        f"{'page':<26}{'median':>10}{'p95':>10}{'min':>10}",
    ]
    for name, case in results["cases"].items():
        lines.append(
            f"{name:<26}{case['median_ms']:>10.1f}{case['p95_ms']:>10.1f}{case['min_ms']:>10.1f}"
        )
    for name in ("today", "product_first_page"):
        ok = results["cases"][name]["median_ms"] < AIM_MS
        lines.append(f"aim: {name} under {AIM_MS:.0f} ms (median): {'yes' if ok else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    parser.add_argument("--url", default=DEFAULT_SQLITE_URL, help="SQLAlchemy URL of the database")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per page")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs first")
    _size_options(parser)
    args = parser.parse_args(argv)
    sizes = _sizes(args)
    if is_generated(args.url, sizes.as_dict()):
        print(f"{display_url(args.url)} already holds the generated data")
    else:
        generate(args.url, sizes, force=True)
    results = run(args.url, args.runs, args.warmup)
    print(table(results))
    print(f"saved to {report.save('web', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
