"""How much a card's page carries before it slows: notes and files on one card.

A fresh SQLite database gets one product with cards holding 0, 100, 1,000 and 10,000 notes (and
one with 300 files); each card's page (``GET /cards/{id}``, logged in through the web UI's form:
routing, session, queries, templates) and its timeline's first page through the API are timed,
interleaved with the same request for the card with no notes (the floor), so the ratio says
what the notes cost. Files: upload and download of 1, 10 and 25 MiB (the default limit).

    .venv/bin/python -m bench.card_page [--runs 30] [--notes 0,100,1000,10000]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from cardcrm.common.db import get_db
from cardcrm.core import create_app
from cardcrm.core.auth.service import create_token, create_user
from cardcrm.core.migrate import upgrade

from . import report
from .csv_import import write_docs
from .timing import interleaved, summary

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
MIB = 1024 * 1024


def run(notes: list[int], runs: int, log: Any = print) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="cardcrm-card-page-")
    url = f"sqlite:///{folder}/core.db"
    upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "card-page-bench-" + "x" * 32,
            "FILES_DIR": os.path.join(folder, "files"),
        }
    )
    with app.app_context():
        session = get_db().session()
        create_user(
            session, email="bench@example.com", name="Bench", password="password123", is_admin=True
        )
        token, _ = create_token(
            session,
            user=session.get(__import__("cardcrm.core.auth.models", fromlist=["User"]).User, 1),
        )
        session.close()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def ok(method: str, path: str, **kwargs: Any) -> Any:
        answer = api.open(f"/api/v1/{path}", method=method, headers=headers, **kwargs)
        if answer.status_code >= 300:
            raise RuntimeError(
                f"{method} {path}: {answer.status_code} {answer.get_data(True)[:200]}"
            )
        return answer

    product = ok("POST", "products", json={"name": "Sales", "template": "sales"}).get_json()
    cards: dict[int, int] = {}
    for count in notes:
        card = ok("POST", f"products/{product['id']}/cards", json={"title": f"{count} notes"})
        card_id = card.get_json()["id"]
        log(f"  writing {count:,} notes ...")
        for number in range(count):
            body = f"Call {number}: the **client** asked about _pricing_ and the [offer](https://example.com/{number})."
            ok("POST", f"cards/{card_id}/notes", json={"body": body})
        cards[count] = card_id
    files_card = ok(
        "POST", f"products/{product['id']}/cards", json={"title": "300 files"}
    ).get_json()["id"]
    for number in range(300):
        data = {"file": (io.BytesIO(f"file {number}".encode()), f"offer-{number}.pdf")}
        ok("POST", f"cards/{files_card}/files", data=data)

    web = app.test_client()
    login = CSRF_INPUT.search(web.get("/login").get_data(as_text=True)).group(1)
    web.post(
        "/login",
        data={"email": "bench@example.com", "password": "password123", "csrf_token": login},
    )

    def page(card_id: int) -> Any:
        def call() -> None:
            answer = web.get(f"/cards/{card_id}")
            if answer.status_code != 200:
                raise RuntimeError(f"/cards/{card_id}: {answer.status_code}")

        return call

    def timeline(card_id: int) -> Any:
        return lambda: ok("GET", f"cards/{card_id}/timeline?limit=50")

    results: dict[str, Any] = {
        "dialect": "sqlite",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "machine": {"cpus": os.cpu_count(), "load_before": [round(v, 2) for v in os.getloadavg()]},
        "pages": {},
        "files": {},
    }
    floor = cards[min(notes)]
    subjects = {f"{count} notes": cards[count] for count in notes} | {"300 files": files_card}
    for name, card_id in subjects.items():
        log(f"  timing the page of the card with {name} ...")
        page_ms, floor_ms = interleaved(page(card_id), page(floor), runs)
        timeline_ms, _ = interleaved(timeline(card_id), timeline(floor), runs)
        results["pages"][name] = {
            "page": summary(page_ms),
            "empty_card_page": summary(floor_ms),
            "ratio": round(statistics.median(page_ms) / statistics.median(floor_ms), 2),
            "timeline_api": summary(timeline_ms),
        }
    for size in (1, 10, 25):
        payload = os.urandom(size * MIB - 4096)  # under the limit with the form's overhead
        samples_up, samples_down = [], []
        for _ in range(3):
            started = time.perf_counter()
            answer = ok(
                "POST",
                f"cards/{files_card}/files",
                data={"file": (io.BytesIO(payload), f"{size}MiB.bin")},
            )
            samples_up.append((time.perf_counter() - started) * 1000)
            file_id = answer.get_json()["id"]
            started = time.perf_counter()
            body = ok("GET", f"files/{file_id}/content").get_data()
            samples_down.append((time.perf_counter() - started) * 1000)
            assert len(body) == len(payload)
            ok("DELETE", f"files/{file_id}")
        results["files"][f"{size} MiB"] = {
            "upload_median_ms": round(statistics.median(samples_up), 1),
            "download_median_ms": round(statistics.median(samples_down), 1),
        }
    results["machine"]["load_after"] = [round(v, 2) for v in os.getloadavg()]
    app.extensions["cardcrm_db"].dispose()
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"Card page on SQLite, {results['runs']} interleaved runs;"
        f" load {results['machine']['load_before']}",
        "",
        f"{'card':<14}{'page med':>10}{'page p95':>10}{'empty card':>12}{'ratio':>8}"
        f"{'timeline API':>14}",
    ]
    for name, row in results["pages"].items():
        lines.append(
            f"{name:<14}{row['page']['median_ms']:>10.1f}{row['page']['p95_ms']:>10.1f}"
            f"{row['empty_card_page']['median_ms']:>12.1f}{row['ratio']:>7.2f}x"
            f"{row['timeline_api']['median_ms']:>14.1f}"
        )
    lines += ["", f"{'file':<10}{'upload med':>12}{'download med':>14}"]
    for size, row in results["files"].items():
        lines.append(
            f"{size:<10}{row['upload_median_ms']:>12.1f}{row['download_median_ms']:>14.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.card_page", description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--notes", default="0,100,1000,10000")
    parser.add_argument("--docs", action="store_true", help="write the table into docs/")
    args = parser.parse_args(argv)
    results = run([int(n) for n in args.notes.split(",")], args.runs)
    results["dialect"] = "sqlite"
    path = report.save("card-page", results)
    print()
    print(table(results))
    print(f"\nresults: {path}")
    if args.docs:
        write_docs("card-page", f"```\n{table(results)}\n```\n")
        print("written into docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
