"""The load test's script (bench/load.py) runs end to end: a tiny generated SQLite database,
core and the bare Flask app under gunicorn, three simulated users for a few seconds, paced and
then in interleaved saturated rounds; and the memory benchmark (bench/memory.py) on it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench` is not installed

from bench import load, memory  # noqa: E402
from bench.dataset import Sizes  # noqa: E402
from bench.generate import generate  # noqa: E402


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(text(table)))
    finally:
        engine.dispose()


POSTGRES_URL = os.environ.get("CARDCRM_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def tiny_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A tiny generated database: SQLite, and PostgreSQL when ``CARDCRM_TEST_POSTGRES_URL`` is
    set (a database of its own per test, next to that one, made again each time)."""
    monkeypatch.setattr("bench.database.RESULTS", tmp_path)  # the generation marker goes here
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'load.db'}"
    elif POSTGRES_URL:
        base = make_url(POSTGRES_URL)
        name = f"{base.database}_{request.node.originalname.split('_')[2]}"
        url = base.set(database=name).render_as_string(hide_password=False)
    else:
        pytest.skip("CARDCRM_TEST_POSTGRES_URL is not set")
    sizes = Sizes(cards=60, tasks=600, users=4, other_cards=5)
    generate(url, sizes, force=True, log=lambda _: None)
    return url


@pytest.mark.slow
def test_the_load_script_drives_core_and_the_ceiling_without_errors(tiny_url: str) -> None:
    url = tiny_url
    cards, tokens = _count(url, "cards"), _count(url, "api_tokens")

    results = load.run(
        url,
        users=3,
        duration=3.0,
        warmup=0.5,
        think=0.02,
        workers=1,
        threads=2,
        rounds=2,
        round_seconds=1.0,
        round_warmup=0.3,
        demand=0,
        log=lambda _: None,
    )

    paced = results["phases"]["paced"]
    assert paced["total"]["count"] > 0  # how many depends on the machine: nothing timed here
    assert paced["total"]["server_errors_5xx"] == 0
    assert paced["total"]["connection_errors"] == 0
    assert paced["total"]["client_errors_4xx"] == {}, paced["unexpected_answers"]
    assert paced["client_errors"] == {}  # the simulated users' own code never failed
    assert set(paced["requests"]) <= set(load.MIX) | {"product"}
    assert paced["total"]["p50_ms"] <= paced["total"]["p95_ms"] <= paced["total"]["p99_ms"]
    assert results["server_log"]["tracebacks"] == 0

    # Two saturated rounds, each with core's three phases and hello, in a turned order.
    rounds = results["rounds"]
    assert len(rounds) == 2
    for one in rounds:
        assert set(one) == {"today", "card list", "mixed", "hello", "ratios"}
        assert set(one["today"]["requests"]) <= {"today", "product", "card list"}
        assert set(one["card list"]["requests"]) <= {"product", "card list"}
        assert one["hello"]["total"]["statuses"] == {"200": one["hello"]["total"]["count"]}
        assert one["hello"]["total"]["count"] > 0
        for name in ("today", "card list", "mixed"):
            expected = one[name]["total"]["per_second"] / one["hello"]["total"]["per_second"]
            assert one["ratios"][name] == pytest.approx(expected, abs=1e-4)
            assert load.errors_of(one[name]) == 0, one[name]["unexpected_answers"]
    assert sum(one["today"]["requests"].get("today", {}).get("count", 0) for one in rounds) > 0
    assert list(rounds[0]) != list(rounds[1])  # A, B, A, B: the order turns every round

    saturated = results["saturated"]
    assert saturated["rounds"] == 2
    assert saturated["mixed"]["per_second"] == [
        one["mixed"]["total"]["per_second"] for one in rounds
    ]
    ratios = [one["ratios"]["today"] for one in rounds]
    assert saturated["ratio_today_to_hello"] == pytest.approx(sum(ratios) / 2, abs=1e-4)
    assert results["phases"]["hello"] == rounds[-1]["hello"]
    hello = [one["hello"]["total"]["per_second"] for one in rounds]
    assert saturated["hello_spread"] == pytest.approx(max(hello) / min(hello) - 1, abs=1e-3)

    aims = {aim["aim"]: aim for aim in results["aims"]}
    assert len(aims) == 6  # today, card list, mix x5, mix errors, paced p95, paced errors
    assert all(isinstance(aim["met"], bool) for aim in aims.values())
    assert aims["mixed saturated: 0 errors"]["met"] is True
    assert aims["paced: 0 errors"]["met"] is True

    memory_ = results["memory"]
    assert len(memory_["core_workers_rss_mb"]) == 1 and memory_["core_workers_rss_mb"][0] > 10
    assert len(memory_["hello_workers_rss_mb"]) == 1

    assert _count(url, "api_tokens") == tokens  # the users' tokens are gone again
    # The writes reached the database (cards made during the warm-up are not counted).
    created = paced["requests"].get("create card", {}).get("statuses", {}).get("201", 0)
    assert _count(url, "cards") >= cards + created
    writes = ("create card", "edit card", "move card", "create task", "close task")
    mixes = [paced, *(one["mixed"] for one in rounds)]
    assert sum(m["requests"].get(kind, {}).get("count", 0) for m in mixes for kind in writes) > 0
    text = load.table(results)
    assert "interleaved rounds" in text and "aim: paced: 0 errors: PASS" in text
    assert "hello alone from round to round" in text


@pytest.mark.slow
def test_the_memory_benchmark_samples_both_workers_between_chunks(tiny_url: str) -> None:
    tokens = _count(tiny_url, "api_tokens")

    results = memory.run(
        tiny_url, requests=300, every=100, warmup=100, users=3, threads=2, log=lambda _: None
    )

    assert [sample["requests"] for sample in results["samples"]] == [0, 100, 200, 300]
    assert all(sample["core_rss_mb"] > 10 for sample in results["samples"])
    assert all(sample["hello_rss_mb"] > 10 for sample in results["samples"])
    assert results["requests"]["core"]["count"] >= 300
    assert set(results["requests"]["core_by_kind"]) <= set(memory.READ_MIX) | {"product"}
    assert results["requests"]["core_errors"] == 0
    core = results["core"]
    assert core["rss_after_warmup_mb"] == results["samples"][1]["core_rss_mb"]
    assert core["rss_end_mb"] == results["samples"][-1]["core_rss_mb"]
    assert core["growth_after_warmup_mb"] == pytest.approx(
        core["rss_end_mb"] - core["rss_after_warmup_mb"], abs=0.11
    )
    assert results["core_worker_pids"] == results["core_worker_pids_after"]
    assert [aim["aim"].split(":")[0] for aim in results["aims"]] == [
        "core worker flat after warm-up",
        "no errors",
    ]
    assert _count(tiny_url, "api_tokens") == tokens
    assert "core worker" in memory.table(results)
