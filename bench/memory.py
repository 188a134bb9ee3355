"""Memory: does a core worker stay flat over many requests? ``python -m bench memory``.

Issue 18 asks that nothing grows that should not: a worker that serves 100,000 requests should
hold about what it held once warmed up. A leak (a cache without a bound, objects kept per
request) shows only after many requests, which no per-request benchmark sends.

``python -m bench memory --url URL [--requests 100000 --every 5000 --warmup 10000]``:

1. Gives ``--users`` simulated users a token each (``load.make_accounts``).
2. Starts ``cardcrm serve core --workers 1 --threads 4`` and ``bench.hello`` with the same
   gunicorn options (``--host``; ``--port`` for core, the next one for hello; free ports by
   default). One worker each, so that its RSS is the whole story.
3. Sends ``--requests`` requests to core, a mix of the read endpoints (``READ_MIX``: the Today
   view, card lists and their next pages, a card, a card's tasks), and as many ``GET /hello``
   to the bare app, interleaved in chunks of ``--every`` (core, hello, core, hello...), each
   user on its own kept-alive connection. After each chunk the worker's RSS (``VmRSS``) is
   read from ``/proc``.
4. Reports the RSS once warmed up (after ``--warmup`` requests) and at the end, the growth in
   between and the largest, next to hello's; the aim is a growth under ``--bound-mb``.

Results go to ``bench/results/memory-<dialect>-<time>.json`` (and ``...-latest.json``).
A request that is neither a success nor a 412 is counted as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import load, report
from .database import dialect_of, display_url
from .hello import PATH as HELLO_PATH
from .timing import machine

#: The read endpoints of ``load.MIX``, in its proportions.
READ_MIX = {
    kind: weight
    for kind, weight in load.MIX.items()
    if kind in ("today", "card list", "card list, next page", "card", "card tasks")
}
#: Growth allowed between the warmed-up worker and the end (MB).
DEFAULT_BOUND_MB = 10.0


def _count(recorder: load.Recorder) -> int:
    return sum(len(times) for times in recorder.latencies.values()) + sum(recorder.lost.values())


async def _until(users: list[Any], recorder: load.Recorder, target: int) -> None:
    """Let the users send requests until ``recorder`` has counted ``target`` of them."""

    async def life(user: Any) -> None:
        while _count(recorder) < target:
            try:
                await user.step()
            except Exception as error:  # noqa: BLE001 - a bug of the simulated user, reported
                recorder.client_errors[repr(error)[:200]] += 1

    await asyncio.gather(*(life(user) for user in users))


def _errors(recorder: load.Recorder) -> int:
    bad = sum(
        count
        for statuses in recorder.statuses.values()
        for status, count in statuses.items()
        if status >= 400 and status != 412
    )
    return bad + sum(recorder.lost.values()) + sum(recorder.client_errors.values())


def _figures(samples: list[dict[str, Any]], key: str, warmup: int) -> dict[str, Any]:
    values = [(sample["requests"], sample[key]) for sample in samples if sample[key] is not None]
    if not values:
        return {}
    warmed = next((rss for requests, rss in values if requests >= warmup), values[-1][1])
    end = values[-1][1]
    return {
        "rss_first_mb": values[0][1],
        "rss_after_warmup_mb": warmed,
        "rss_end_mb": end,
        "rss_max_mb": max(rss for _, rss in values),
        "growth_after_warmup_mb": round(end - warmed, 1),
    }


def run(
    url: str,
    *,
    requests: int = 100_000,
    every: int = 5_000,
    warmup: int = 10_000,
    users: int = 8,
    threads: int = 4,
    bound_mb: float = DEFAULT_BOUND_MB,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 2026,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Send the requests, sampling both workers' RSS; returns the results."""
    accounts, product_id = load.make_accounts(url, users)
    shared = load.Shared()
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "code": load._code_version(),
        "settings": {
            "requests": requests,
            "every": every,
            "warmup_requests": warmup,
            "users": users,
            "workers": 1,
            "threads": threads,
            "mix": READ_MIX,
            "bound_mb": bound_mb,
        },
        "machine": machine(url),
        "samples": [],
    }
    core_recorder, hello_recorder = load.Recorder(start=0.0), load.Recorder(start=0.0)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder, ExitStack() as stack:
            env = load.server_env(url, Path(folder))
            core = stack.enter_context(
                load.serving(
                    load.core_command(1, threads),
                    env,
                    Path(folder),
                    "/healthz",
                    host=host,
                    port=port,
                )
            )
            hello = stack.enter_context(
                load.serving(
                    load.hello_command(1, threads),
                    env,
                    Path(folder),
                    HELLO_PATH,
                    host=host,
                    port=port and port + 1,
                )
            )
            core_pid = load.children(core.process.pid)
            hello_pid = load.children(hello.process.pid)
            results["core_worker_pids"], results["hello_worker_pids"] = core_pid, hello_pid

            def core_user(number: int) -> load.SimulatedUser:
                connection = load.Connection(core.host, core.port)
                account = accounts[number % len(accounts)]
                user = load.SimulatedUser(
                    account, product_id, connection, core_recorder, shared, seed + number
                )
                user.actions, user.weights = list(READ_MIX), list(READ_MIX.values())
                return user

            def hello_user(_: int) -> load.HelloUser:
                return load.HelloUser(load.Connection(hello.host, hello.port), hello_recorder)

            async def drive() -> None:
                core_users = [core_user(number) for number in range(users)]
                hello_users = [hello_user(number) for number in range(users)]
                await asyncio.gather(*(user.begin() for user in core_users))
                results["samples"].append(_sample(0, core.process.pid, hello.process.pid))
                target = 0
                while target < requests:
                    target = min(requests, target + every)
                    await _until(core_users, core_recorder, target)
                    await _until(hello_users, hello_recorder, target)
                    found = _sample(target, core.process.pid, hello.process.pid)
                    results["samples"].append(found)
                    log(
                        f"  {target:>7,} requests each: core worker {found['core_rss_mb']} MB, "
                        f"hello worker {found['hello_rss_mb']} MB"
                    )
                for user in [*core_users, *hello_users]:
                    user.connection.close()

            log(
                f"memory: {requests:,} read requests to one core worker ({display_url(url)}) "
                f"and as many to hello, interleaved by {every:,}"
            )
            asyncio.run(drive())
            results["core_worker_pids_after"] = load.children(core.process.pid)
            results["hello_worker_pids_after"] = load.children(hello.process.pid)
            results["server_log"] = load.server_errors(core.log_path)
    finally:
        load.forget_accounts(url, accounts)
    results["requests"] = {
        "core": load.summary(
            [value for times in core_recorder.latencies.values() for value in times],
            sum(core_recorder.statuses.values(), Counter()),
            sum(core_recorder.lost.values()),
            0,
        ),
        "core_by_kind": {
            kind: sum(counts.values()) for kind, counts in core_recorder.statuses.items()
        },
        "core_errors": _errors(core_recorder),
        "hello_errors": _errors(hello_recorder),
        "client_errors": dict(core_recorder.client_errors),
    }
    results["core"] = _figures(results["samples"], "core_rss_mb", warmup)
    results["hello"] = _figures(results["samples"], "hello_rss_mb", warmup)
    growth = results["core"].get("growth_after_warmup_mb")
    restarted = results["core_worker_pids"] != results["core_worker_pids_after"]
    results["aims"] = [
        {
            "aim": f"core worker flat after warm-up: growth from {warmup:,} to {requests:,} "
            f"requests <= {bound_mb:g} MB",
            "value": f"{growth} MB",
            "met": growth is not None and growth <= bound_mb and not restarted,
        },
        {
            "aim": "no errors",
            "value": str(results["requests"]["core_errors"]),
            "met": results["requests"]["core_errors"] == 0,
        },
    ]
    return results


def _sample(requests: int, core: int, hello: int) -> dict[str, Any]:
    core_rss = load.workers_rss_mb(core)
    hello_rss = load.workers_rss_mb(hello)
    return {
        "requests": requests,
        "core_rss_mb": core_rss[0] if core_rss else None,
        "hello_rss_mb": hello_rss[0] if hello_rss else None,
    }


def table(results: dict[str, Any]) -> str:
    settings = results["settings"]
    core, hello = results.get("core", {}), results.get("hello", {})
    lines = [
        f"Worker memory on {results['database']} (code {results.get('code')}): "
        f"{settings['requests']:,} read requests to one core worker ({settings['threads']} "
        f"threads, {settings['users']} users) and as many to hello, interleaved by "
        f"{settings['every']:,}",
        "",
        f"{'requests':>10}{'core RSS MB':>14}{'hello RSS MB':>14}",
        *(
            f"{sample['requests']:>10,}{_mb(sample['core_rss_mb']):>14}"
            f"{_mb(sample['hello_rss_mb']):>14}"
            for sample in results["samples"]
        ),
        "",
        f"core: {core.get('rss_after_warmup_mb')} MB after {settings['warmup_requests']:,} "
        f"requests, {core.get('rss_end_mb')} MB at the end (growth "
        f"{core.get('growth_after_warmup_mb')} MB, largest {core.get('rss_max_mb')} MB)",
        f"hello: {hello.get('rss_after_warmup_mb')} MB after warm-up, {hello.get('rss_end_mb')} "
        f"MB at the end",
        f"core requests: {results['requests']['core'].get('count', 0):,}, p50 "
        f"{results['requests']['core'].get('p50_ms')} ms, errors "
        f"{results['requests']['core_errors']}",
        "",
        *load.aims_lines(results.get("aims", [])),
    ]
    return "\n".join(lines)


def _mb(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m bench memory``."""
    parser.add_argument("--url", default=load.DEFAULT_URL, help="a database holding cards")
    parser.add_argument("--requests", type=int, default=100_000, help="requests to each server")
    parser.add_argument("--every", type=int, default=5_000, help="requests between two samples")
    parser.add_argument(
        "--warmup", type=int, default=10_000, help="requests before the warmed-up sample"
    )
    parser.add_argument("--users", type=int, default=8, help="simulated users (connections)")
    parser.add_argument("--threads", type=int, default=4, help="threads of the one worker")
    parser.add_argument(
        "--bound-mb", type=float, default=DEFAULT_BOUND_MB, help="growth allowed after warm-up"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=0, help="core's port; hello gets the next (default: free)"
    )


def main_from(args: argparse.Namespace) -> int:
    if not load._holds_cards(args.url):
        raise SystemExit(f"{display_url(args.url)} holds no cards: generate it first")
    load.upgrade(args.url)  # a no-op when the schema is current
    results = run(
        args.url,
        requests=args.requests,
        every=args.every,
        warmup=args.warmup,
        users=args.users,
        threads=args.threads,
        bound_mb=args.bound_mb,
        host=args.host,
        port=args.port,
    )
    print()
    print(table(results))
    print(f"\nresults: {report.save('memory', results)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__.split("\n")[0]
    )
    add_arguments(parser)
    return main_from(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
