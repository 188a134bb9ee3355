"""The load test's script (bench/load.py) runs end to end: a tiny generated SQLite database,
core and the bare Flask app under gunicorn, three simulated users for about two seconds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench` is not installed

from bench import load  # noqa: E402
from bench.dataset import Sizes  # noqa: E402
from bench.generate import generate  # noqa: E402


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(text(table)))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_the_load_script_drives_core_and_the_ceiling_without_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bench.database.RESULTS", tmp_path)  # the generation marker goes here
    url = f"sqlite:///{tmp_path / 'load.db'}"
    generate(url, Sizes(cards=60, tasks=600, users=4, other_cards=5), log=lambda _: None)
    cards, tokens = _count(url, "cards"), _count(url, "api_tokens")

    results = load.run(
        url,
        users=3,
        duration=2.0,
        warmup=0.5,
        think=0.02,
        workers=1,
        threads=2,
        saturate=False,
        demand=0,
        log=lambda _: None,
    )

    paced = results["phases"]["paced"]
    assert paced["total"]["count"] > 20
    assert paced["total"]["server_errors_5xx"] == 0
    assert paced["total"]["connection_errors"] == 0
    assert paced["total"]["client_errors_4xx"] == {}, paced["unexpected_answers"]
    assert paced["client_errors"] == {}  # the simulated users' own code never failed
    assert {"today", "card list", "card"} <= set(paced["requests"])
    assert paced["total"]["p50_ms"] <= paced["total"]["p95_ms"] <= paced["total"]["p99_ms"]
    assert results["server_log"]["tracebacks"] == 0

    hello = results["phases"]["hello"]
    assert hello["total"]["statuses"] == {"200": hello["total"]["count"]}
    assert hello["total"]["count"] > 0

    assert _count(url, "api_tokens") == tokens  # the users' tokens are gone again
    # The writes reached the database (cards made during the warm-up are not counted).
    created = paced["requests"].get("create card", {}).get("statuses", {}).get("201", 0)
    assert _count(url, "cards") >= cards + created
    writes = ("create card", "edit card", "move card", "create task", "close task")
    assert sum(paced["requests"].get(kind, {}).get("count", 0) for kind in writes) > 0
    print(load.table(results))
