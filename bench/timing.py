"""Timing a request against its floor, interleaved (A, B, A, B), as every benchmark here does:
both see the same machine load, so their ratio means something even on a busy machine."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def interleaved(
    a: Callable[[], Any], b: Callable[[], Any], runs: int, warmup: int = 1
) -> tuple[list[float], list[float]]:
    """Milliseconds of ``runs`` calls of ``a`` and of ``b``, alternating, after ``warmup`` each."""
    for _ in range(warmup):
        a()
        b()
    a_ms: list[float] = []
    b_ms: list[float] = []
    for _ in range(runs):
        for call, samples in ((a, a_ms), (b, b_ms)):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
    return a_ms, b_ms


def summary(samples: list[float]) -> dict[str, float]:
    """Median, 95th percentile and fastest of some timings, in ms."""
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(statistics.quantiles(samples, n=20, method="inclusive")[18], 2),
        "min_ms": round(min(samples), 2),
    }


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: timings only mean something on a quiet machine."""
    return [round(value, 2) for value in os.getloadavg()]


def machine(url: str | None = None) -> dict[str, Any]:
    """Where and when a result was measured, recorded in every result file (``report.save``).

    ``{"date", "cores", "load_average", "python", "database"}``: the figures of a 2-core
    machine shared with other work are only comparable with this next to them.
    ``database`` is the server's version when ``url`` is given (its dialect otherwise, or None).
    """
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average": load_average(),
        "python": platform.python_version(),
        "database": database_version(url) if url else None,
    }


def database_version(url: str) -> str:
    """``"PostgreSQL 15.20"`` or ``"SQLite 3.40.1"``; the dialect's name when unreachable."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    dialect = make_url(url).get_backend_name()
    if dialect == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            version = str(connection.scalar(text("SHOW server_version")))
        return f"PostgreSQL {version.split()[0]}"
    except SQLAlchemyError:
        return dialect
    finally:
        engine.dispose()
