"""Command line of the benchmarks: ``python -m bench {generate,cards,load,memory,docs,all}``
(make bench)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from . import cards, docs_page, load, memory, report, search, totals
from .database import DEFAULT_SQLITE_URL, POSTGRES_URL_VARIABLE, display_url, is_generated
from .dataset import Sizes
from .generate import generate

#: Benchmarks with a command line of their own: ``python -m bench events ...`` is
#: ``python -m bench.events ...``.
MODULES = {
    "today": "bench.today",
    "events": "bench.events",
    "calendar": "bench.calendar",
    "card-page": "bench.card_page",
    "csv-import": "bench.csv_import",
    "events-notify": "bench.events_notify",
    "sidecar-latency": "bench.sidecar_latency",
    "web": "bench.web",
    "notifications": "bench.notifications",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in MODULES:
        import importlib

        return int(importlib.import_module(MODULES[argv[0]]).main(argv[1:]) or 0)
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="cardcrm's data generator and benchmarks; also "
        + ", ".join(MODULES)
        + " (each with its own options: python -m bench NAME --help).",
    )
    commands = parser.add_subparsers(dest="command")

    make = commands.add_parser("generate", help="fill an empty core database with generated data")
    make.add_argument("--url", default=DEFAULT_SQLITE_URL, help="SQLAlchemy URL of the database")
    make.add_argument("--force", action="store_true", help="drop what the database holds first")
    _size_options(make)

    bench = commands.add_parser("cards", help="benchmark the card list and a single card")
    bench.add_argument("--url", default=DEFAULT_SQLITE_URL, help="a generated database")
    _run_options(bench)

    searching = commands.add_parser("search", help="benchmark global search (GET /search)")
    searching.add_argument("--url", default=DEFAULT_SQLITE_URL, help="a generated database")
    searching.add_argument("--docs", action="store_true", help="write the table into docs/")
    _run_options(searching)

    summing = commands.add_parser(
        "totals", help="benchmark the board's money sums and the yearly outcomes report"
    )
    summing.add_argument("--url", default=DEFAULT_SQLITE_URL, help="a generated database")
    summing.add_argument("--docs", action="store_true", help="write the table into docs/")
    summing.add_argument("--name", default="", help="results and docs suffix (e.g. before)")
    summing.add_argument("--runs", type=int, default=30, help="timed runs per case")
    summing.add_argument("--warmup", type=int, default=3, help="untimed runs first")

    load.add_arguments(
        commands.add_parser(
            "load", help="load test: core under gunicorn with many users, and a bare Flask ceiling"
        )
    )

    memory.add_arguments(
        commands.add_parser(
            "memory", help="one core worker's memory over 100,000 requests, next to hello's"
        )
    )

    docs_page.add_arguments(
        commands.add_parser(
            "docs", help="write docs/benchmarks.md from the latest results in bench/results/"
        )
    )

    everything = commands.add_parser(
        "all",
        help="generate (unless already done) and run every benchmark on SQLite, and on "
        f"PostgreSQL when {POSTGRES_URL_VARIABLE} is set (the default command)",
    )
    everything.add_argument("--sqlite-url", default=DEFAULT_SQLITE_URL)
    _size_options(everything)
    _run_options(everything)

    if not argv or argv[0] not in (*commands.choices, "-h", "--help"):
        argv.insert(0, "all")  # `make bench BENCH_ARGS="--runs 50"` means `all --runs 50`
    args = parser.parse_args(argv)
    if args.command == "generate":
        generate(args.url, _sizes(args), force=args.force)
    elif args.command == "cards":
        _bench_cards(args.url, args)
    elif args.command == "search":
        _bench_search(args.url, args)
    elif args.command == "totals":
        _bench_totals(args.url, args)
    elif args.command == "load":
        return load.main_from(args)
    elif args.command == "memory":
        return memory.main_from(args)
    elif args.command == "docs":
        return docs_page.main_from(args)
    else:
        urls = [args.sqlite_url]
        if os.environ.get(POSTGRES_URL_VARIABLE):
            urls.append(os.environ[POSTGRES_URL_VARIABLE])
        else:
            print(f"({POSTGRES_URL_VARIABLE} is not set: SQLite only)")
        sizes = _sizes(args)
        for url in urls:
            if is_generated(url, sizes.as_dict()):
                print(f"{display_url(url)} already holds the generated data")
            else:
                generate(url, sizes, force=True)
            _bench_cards(url, args)
    return 0


def _bench_search(url: str, args: Any) -> None:
    print(f"benchmarking global search on {display_url(url)}")
    results = search.run(url, runs=args.runs, warmup=args.warmup)
    path = report.save("search", results)
    print()
    print(search.table(results))
    print(f"\nresults: {path}\n")
    if getattr(args, "docs", False):
        from .csv_import import write_docs

        write_docs(f"search-{results['dialect']}", f"```\n{search.table(results)}\n```\n")
        print("written into docs/benchmarks.md")


def _bench_totals(url: str, args: Any) -> None:
    print(f"benchmarking the board's totals and the yearly report on {display_url(url)}")
    results = totals.run(url, runs=args.runs, warmup=args.warmup)
    suffix = f"-{args.name}" if args.name else ""
    path = report.save(f"totals{suffix}", results)
    label = f" ({args.name})" if args.name else ""
    print()
    print(totals.table(results, label))
    print(f"\nresults: {path}\n")
    if args.docs:
        from .csv_import import write_docs

        kind = f"totals-{results['dialect']}{suffix}"
        write_docs(kind, f"```\n{totals.table(results, label)}\n```\n")
        print("written into docs/benchmarks.md")


def _bench_cards(url: str, args: Any) -> None:
    print(f"benchmarking cards on {display_url(url)}")
    results = cards.run(url, runs=args.runs, warmup=args.warmup)
    path = report.save("cards", results)
    print()
    print(report.cards_table(results))
    print(f"\nresults: {path}\n")


def _size_options(parser: argparse.ArgumentParser) -> None:
    defaults = Sizes()
    parser.add_argument(
        "--cards", type=int, default=defaults.cards, help="cards in the main product"
    )
    parser.add_argument("--tasks", type=int, default=defaults.tasks, help="tasks over all cards")
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument(
        "--other-cards", type=int, default=defaults.other_cards, help="cards in each other product"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=200, help="timed runs per case")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first")


def _sizes(args: Any) -> Sizes:
    return Sizes(
        cards=args.cards,
        tasks=args.tasks,
        users=args.users,
        other_cards=args.other_cards,
        seed=args.seed,
    )


if __name__ == "__main__":
    sys.exit(main())
