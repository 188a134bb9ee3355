"""What every core request costs around its own work: core next to a bare Flask app, interleaved.

``python -m bench.overhead --url URL`` starts ``cardcrm serve core`` and ``bench.hello`` under
the same gunicorn options (``--workers``/``--threads``, by default what ``cardcrm serve``
chooses), then measures requests/s of ``hello``, ``GET /api/v1/me`` (a token check and a
small answer: the fixed cost), ``GET /api/v1/today`` and the first page of 50 cards of the
main product, one after the other in rounds (hello, me, today, cards, hello, me...), each for
``--seconds`` with ``--users`` kept-alive connections sending their next request as soon as
the last one is answered. Interleaving makes each core figure comparable with the hello figure
measured beside it on a shared, noisy machine; the report gives each round's ratios and their
median. Both servers run all the time (the one not measured is idle).

The database at ``URL`` must hold generated data (``bench.generate``); tokens are made for
the run and deleted after it. Use a copy of the shared bench database
(``createdb -T bench_cardcrm ...``): the run writes tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .hello import PATH as HELLO_PATH
from .load import (
    Connection,
    ConnectionLost,
    forget_accounts,
    make_accounts,
    server_env,
    serving,
)


async def _saturate(
    host: str, port: int, paths: list[str], headers: list[dict[str, str]], seconds: float
) -> tuple[int, int, list[float]]:
    """Requests answered 200 (and not) in ``seconds`` by ``len(paths)`` connections at once."""
    done = errors = 0
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def one(path: str, header: dict[str, str]) -> None:
        nonlocal done, errors
        connection = Connection(host, port)
        try:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                try:
                    answer = await connection.request("GET", path, header)
                except (ConnectionLost, OSError):
                    errors += 1
                    continue
                if answer.status == 200:
                    done += 1
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1
        finally:
            connection.close()

    await asyncio.gather(*(one(path, header) for path, header in zip(paths, headers, strict=True)))
    return done, errors, latencies


def measure(
    host: str, port: int, paths: list[str], headers: list[dict[str, str]], seconds: float
) -> dict[str, float]:
    # A short unrecorded warm-up: connections opened, workers' caches filled.
    asyncio.run(_saturate(host, port, paths, headers, min(1.0, seconds / 4)))
    began = time.perf_counter()
    done, errors, latencies = asyncio.run(_saturate(host, port, paths, headers, seconds))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": done / elapsed,
        "errors": errors,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.overhead", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--url", required=True, help="a database with generated data (a copy)")
    parser.add_argument("--workers", type=int, default=None, help="default: cardcrm serve's")
    parser.add_argument("--threads", type=int, default=None, help="default: cardcrm serve's")
    parser.add_argument("--users", type=int, default=16, help="connections at once")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--kinds", default="me,today,cards", help="which core requests (me, today, cards)"
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="the cardcrm command of another checkout (e.g. main's .venv/bin/cardcrm): its"
        " core is measured too, interleaved, as 'before'",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    accounts, product_id = make_accounts(args.url, args.users)
    kinds = {
        "me": "/api/v1/me",
        "today": "/api/v1/today",
        "cards": f"/api/v1/products/{product_id}/cards?limit=50",
    }
    chosen = [kind for kind in args.kinds.split(",") if kind]
    counts: list[str] = []
    if args.workers is not None:
        counts += ["--workers", str(args.workers)]
    if args.threads is not None:
        counts += ["--threads", str(args.threads)]
    core = [str(Path(sys.executable).with_name("cardcrm")), "serve", "core", *counts]
    hello = [sys.executable, "-m", "bench.hello", *_hello_counts(args.workers, args.threads)]
    rounds: list[dict[str, dict[str, float]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="cardcrm-overhead-") as folder_name:
            folder = Path(folder_name)
            env = server_env(args.url, folder)
            with contextlib.ExitStack() as stack:
                hello_server = stack.enter_context(serving(hello, env, folder, HELLO_PATH))
                cores = {"": stack.enter_context(serving(core, env, folder, "/healthz"))}
                if args.before:
                    before = [str(args.before), *core[1:]]
                    cores["before "] = stack.enter_context(serving(before, env, folder, "/healthz"))
                auth = [{"Authorization": f"Bearer {account.token}"} for account in accounts]
                for number in range(args.rounds):
                    figures = {
                        "hello": measure(
                            hello_server.host,
                            hello_server.port,
                            [HELLO_PATH] * args.users,
                            [{}] * args.users,
                            args.seconds,
                        )
                    }
                    for kind in chosen:
                        for label, server in sorted(cores.items(), reverse=True):
                            figures[label + kind] = measure(
                                server.host,
                                server.port,
                                [kinds[kind]] * args.users,
                                auth,
                                args.seconds,
                            )
                    rounds.append(figures)
                    print(f"round {number + 1}: " + _line(figures), flush=True)
    finally:
        forget_accounts(args.url, accounts)
    summary = {
        kind: statistics.median(
            figures[kind]["rps"] / figures["hello"]["rps"] for figures in rounds
        )
        for kind in rounds[0]
        if kind != "hello"
    }
    print(
        "median share of hello's requests/s: "
        + ", ".join(f"{kind} {100 * share:.1f} %" for kind, share in summary.items())
    )
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "share": summary}, indent=2))
    return 0


def _hello_counts(workers: int | None, threads: int | None) -> list[str]:
    """``bench.hello`` with the counts ``cardcrm serve`` would choose when none are given."""
    if workers is None or threads is None:
        from cardcrm.server import default_threads, default_workers

        workers = workers if workers is not None else default_workers()
        threads = threads if threads is not None else default_threads()
    return [
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]


def _line(figures: dict[str, dict[str, Any]]) -> str:
    hello = figures["hello"]["rps"]
    parts = [f"hello {hello:.0f}/s"]
    for kind, figure in figures.items():
        if kind != "hello":
            parts.append(
                f"{kind} {figure['rps']:.0f}/s ({100 * figure['rps'] / hello:.1f} %,"
                f" p50 {figure['p50_ms']:.1f} ms, errors {figure['errors']:.0f})"
            )
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
