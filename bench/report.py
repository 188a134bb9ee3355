"""Printing the benchmark's results as a table, and keeping them as JSON in bench/results/."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import timing
from .database import RESULTS

#: The issue's aims for the card list.
MAX_RATIO = 3.0
MAX_MS = 30.0

CASE_NAMES = {
    "first_page": "list, first page (limit 50)",
    "first_page_kept": "same, answer kept (no change)",
    "second_page": "list, second page (cursor)",
    "status_filter": "list, ?status_id=, first page",
    "status_filter_deep": "same, 40 pages deep",
    "search_rare": "list, ?q= a word no card holds",
    "search_common": "list, ?q= a word most cards hold",
    "card": "single card (GET /cards/{id})",
}


def cards_table(results: dict[str, Any]) -> str:
    data = results["data"]
    machine = results.get("machine", {})
    lines = [
        f"Card benchmark on {results['server']}: {results['database']}",
        f"{data.get('cards', 0):,} cards ({data['cards_in_product']:,} live in product "
        f"{results['product_id']}), {data.get('tasks', 0):,} tasks; "
        f"{results['runs']} timed runs after {results['warmup']} warm-up; times in ms",
        f"machine: {machine.get('cpus')} CPUs, load average {machine.get('load_before')} before, "
        f"{machine.get('load_after')} after",
        "",
        f"{'case':<32}{'API med':>9}{'API p95':>9}{'floor med':>11}{'floor p95':>11}"
        f"{'API/floor':>11}{'ORM med':>9}{'dump med':>10}",
    ]
    for name, case in results["cases"].items():
        orm = case.get("orm", {}).get("median_ms")
        dump = case.get("dump", {}).get("median_ms")
        lines.append(
            f"{CASE_NAMES.get(name, name):<32}{case['api']['median_ms']:>9.2f}"
            f"{case['api']['p95_ms']:>9.2f}{case['floor']['median_ms']:>11.3f}"
            f"{case['floor']['p95_ms']:>11.3f}{case['ratio']:>10.1f}x"
            f"{'' if orm is None else format(orm, '.2f'):>9}"
            f"{'' if dump is None else format(dump, '.2f'):>10}"
        )
    counts = results["statements"]
    per_limit = ", ".join(
        f"limit={key.rsplit('_', 1)[1]}: {value}"
        for key, value in counts.items()
        if key.startswith("list_limit_")
    )
    lines += [
        "",
        f"SQL statements per request: list {per_limit}; second page: {counts['second_page']}; "
        f"single card: {counts['card']}",
        "  list (limit=50):",
        *(f"    {statement}" for statement in counts["list_sql"]),
        "  single card:",
        *(f"    {statement}" for statement in counts["card_sql"]),
        "",
        "Plan of the first-page query:",
        *(f"  {line}" for line in results["plans"]["first_page"]["plan"]),
        "ORM = session + product + statuses + the page query as objects (queries.list_cards); "
        "dump = CardSchema + JSON of the page",
        "",
        *_aims(results),
    ]
    deep = results.get("flat_in_depth")
    if deep:
        lines.insert(
            -len(_aims(results)) - 1,
            f"A page {deep['pages']} pages deep in ?status_id= takes"
            f" {deep['deep_api_p50_ms']:.2f} ms against {deep['first_api_p50_ms']:.2f} ms for the"
            f" first ({deep['deep_over_first']}x)",
        )
    return "\n".join(lines)


def _aims(results: dict[str, Any]) -> list[str]:
    page = results["cases"]["first_page"]
    statements = results["statements"]
    counts = [value for key, value in statements.items() if key.startswith("list_limit_")]
    checks = [
        (f"first page within {MAX_RATIO:.0f}x the floor", page["ratio"] <= MAX_RATIO),
        (f"first page under {MAX_MS:.0f} ms (median)", page["api"]["median_ms"] < MAX_MS),
        ("statement count independent of the page size", len(set(counts)) == 1),
    ]
    return [f"aim: {text}: {'yes' if ok else 'NO'}" for text, ok in checks]


def save(kind: str, results: dict[str, Any]) -> Path:
    """Write ``results`` as ``<kind>-<dialect>-<time>.json`` and as ``...-latest.json``.

    Every result gets the machine it was measured on (``timing.machine``: date, cores, load
    average, Python, database) under ``"machine"``, keeping what the benchmark put there
    itself: ``python -m bench docs`` prints it next to the figures.
    """
    recorded = results.setdefault("machine", {})
    if not isinstance(recorded, dict):
        recorded = results["machine"] = {"recorded_as": recorded}
    for key, value in timing.machine().items():
        if recorded.get(key) is None:
            recorded[key] = value
    if recorded.get("database") is None and results.get("dialect"):
        recorded["database"] = results["dialect"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(results, indent=2, default=str) + "\n"
    path = RESULTS / f"{kind}-{results['dialect']}-{stamp}.json"
    path.write_text(text)
    (RESULTS / f"{kind}-{results['dialect']}-latest.json").write_text(text)
    return path
