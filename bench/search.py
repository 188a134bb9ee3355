"""Benchmark of global search (``GET /api/v1/search?q=``) on the generated database.

Each query is timed through the real app (routing, token check, the access rule, the cards
and contacts queries, JSON) as a member of the main product, interleaved with its *floor*:
the bare statement that finds the same first cards (``search_text LIKE`` on a raw DBAPI
cursor), run A, B, A, B so both see the same machine. The aim: under 100 ms at 100,000 cards.

    .venv/bin/python -m bench search --url URL [--runs 50 --warmup 5]
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cardcrm.common.db import make_engine
from cardcrm.core import create_app
from cardcrm.core.textsearch import fold

from .cards import _setup
from .database import dialect_of, display_url
from .timing import interleaved, load_average, summary

AIM_MS = 100.0
LIMIT = 10
#: Words of the generated titles and fields: many matches, some, one company, nothing at all
#: (the whole table is read), and two words.
QUERIES = {
    "common word": "licences",
    "a company": "globex",
    "two words": "wonka licences",
    "accented": "ștefan",
    "no match": "zzqxj",
}


def run(url: str, runs: int = 50, warmup: int = 5, log: Any = print) -> dict[str, Any]:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 32})
    setup = _setup(app, url, 1)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {setup['token']}"}
    engine = make_engine(url)
    connection = engine.raw_connection()
    if dialect_of(url) == "postgresql":
        connection.driver_connection.autocommit = True
    cursor = connection.cursor()
    mark = "?" if dialect_of(url) == "sqlite" else "%s"
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "warmup": warmup,
        "data": setup["data"],
        "machine": {"load_before": load_average()},
        "aim_ms": AIM_MS,
        "cases": {},
    }

    try:
        for name, q in QUERIES.items():
            words = fold(q).split()
            where = " AND ".join(f"search_text LIKE {mark}" for _ in words)
            floor_sql = (
                f"SELECT id, title FROM cards WHERE trashed_at IS NULL AND {where} "
                f"ORDER BY updated_at DESC, id DESC LIMIT {LIMIT}"
            )
            patterns = tuple(f"%{word}%" for word in words)
            path = f"/api/v1/search?q={q}&limit={LIMIT}"

            def api(path: str = path) -> int:
                response = client.get(path, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path}: {response.status_code}")
                return len(response.get_json()["items"])

            def floor(sql: str = floor_sql, args: tuple = patterns) -> int:
                cursor.execute(sql, args)
                return len(cursor.fetchall())

            log(f"  timing {name!r} ...")
            api_ms, floor_ms = interleaved(api, floor, runs, warmup)
            case = {
                "q": q,
                "hits": api(),
                "api": summary(api_ms),
                "floor": summary(floor_ms),
            }
            case["ratio"] = round(case["api"]["median_ms"] / case["floor"]["median_ms"], 2)
            results["cases"][name] = case
    finally:
        connection.close()
        engine.dispose()
        app.extensions["cardcrm_db"].dispose()
    results["machine"]["load_after"] = load_average()
    return results


def table(results: dict[str, Any]) -> str:
    data = results["data"]
    lines = [
        f"Global search on {results['database']}: {data.get('cards', 0):,} cards; "
        f"{results['runs']} interleaved runs; times in ms; aim: API under {AIM_MS:.0f} ms",
        "",
        f"{'query':<14}{'q':<18}{'hits':>5}{'API med':>9}{'API p95':>9}"
        f"{'floor med':>11}{'API/floor':>11}",
    ]
    for name, case in results["cases"].items():
        lines.append(
            f"{name:<14}{case['q']:<18}{case['hits']:>5}{case['api']['median_ms']:>9.1f}"
            f"{case['api']['p95_ms']:>9.1f}{case['floor']['median_ms']:>11.1f}"
            f"{case['ratio']:>10.1f}x"
        )
    return "\n".join(lines)
