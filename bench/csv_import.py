"""CSV import benchmark: a member imports 100,000 cards over HTTP while another user writes.

``python -m bench.csv_import`` (``bench/README.md``, "CSV import"):

1. Makes a fresh SQLite database (the real migrations) in a temporary folder: an admin, an
   ordinary member of a product made from the sales template, a few colleagues to own cards,
   and a second product with one card for the other writer.
2. Writes the file: ``--rows`` cards (default 100,000) with every column an export of the
   product has that an import reads (title, status, owner, the sales fields), values made by
   ``bench.samples`` and written as an export writes them (``cell_of``); ``--columns title``
   writes titles only (the issue's file: 96,243 rows in 1 MiB).
3. Starts ``cardcrm serve core`` (gunicorn, ``--workers 1 --threads 4`` by default, so the
   import and the other writer share one worker process, as they would on a small server),
   and warms it up (an import of 100 rows loads the code an import needs).
4. Runs ``--rounds`` rounds, each: the other writer alone for ``--baseline`` seconds, then the
   member's import (``POST /api/v1/products/{id}/cards.csv``, the file streamed as the body)
   with the other writer going on, then the writer alone again. The other writer is a thread
   of this process that renames its card (``PATCH /api/v1/cards/{id}``) every
   ``--think`` seconds and records each answer's latency and status.

Measured for each import: the time from the first byte sent to the answer; the worker's CPU
seconds; the worker's resident memory (``VmRSS``, sampled every 20 ms, and the kernel's peak
``VmHWM``, reset just before) against what it was just before; the other writer's latencies
during the import against those of the rounds' writer-only windows (interleaved, so that both
see the same machine). The aims (the issue's): 100,000 rows in under 10 s, the other writer
never waiting more than 2 s, the worker growing by less than 50 MB.

Results go to ``bench/results/csv-import-<dialect>-<time>.json`` (and ``...-latest.json``);
``--docs`` also writes the table into docs/benchmarks.md, between the markers named after the
results (``<!-- csv-import-title: begin -->`` for ``--name title``), so that the figures there
always come from a results file.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardcrm.common.db import get_db
from cardcrm.core import create_app
from cardcrm.core.auth.service import create_token, create_user
from cardcrm.core.cards.service import create_card
from cardcrm.core.csv_io.cards import cell_of
from cardcrm.core.migrate import upgrade
from cardcrm.core.products.members import set_members
from cardcrm.core.products.service import create_product

from . import report
from .load import ROOT, _code_version, core_command, serving, tree_cpu_seconds
from .samples import card_title, field_values

#: The issue's aims.
AIM_SECONDS, AIM_ROWS = 10.0, 100_000
AIM_WAIT_SECONDS = 2.0
AIM_GROWTH_MB = 50.0
DOCS = ROOT / "docs" / "benchmarks.md"
COLLEAGUES = 8
SAMPLE_EVERY = 0.02


@dataclass
class Setup:
    url: str
    folder: Path
    product_id: int
    member_token: str
    writer_token: str
    writer_card: int
    statuses: list[str]
    definitions: list[dict[str, Any]]
    owners: list[str]


def make_database(folder: Path) -> Setup:
    """A fresh core database with the users, products and tokens the benchmark needs."""
    url = f"sqlite:///{folder / 'core.db'}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secrets.token_urlsafe(32)})
    with app.test_request_context():
        database = get_db()
        session = database.session()
        try:
            password = secrets.token_urlsafe(16)
            admin = create_user(
                session, email="admin@bench.example", name="Admin", password=password, is_admin=True
            )
            member = create_user(
                session, email="member@bench.example", name="Member", password=password
            )
            owners = [member.email] + [
                create_user(
                    session,
                    email=f"colleague{number}@bench.example",
                    name=f"Colleague {number}",
                    password=password,
                ).email
                for number in range(COLLEAGUES)
            ]
            product = create_product(session, admin, {"name": "Sales", "template": "sales"})
            set_members(session, product.id, [{"user_id": member.id, "own_cards_only": False}])
            other = create_product(session, admin, {"name": "Elsewhere", "template": "sales"})
            card = create_card(session, admin, other.id, {"title": "Renamed all the time"})
            member_token, _ = create_token(session, user=member, name="bench.csv_import")
            writer_token, _ = create_token(session, user=admin, name="bench.csv_import writer")
            return Setup(
                url=url,
                folder=folder,
                product_id=product.id,
                member_token=member_token,
                writer_token=writer_token,
                writer_card=card.id,
                statuses=[status.name for status in product.statuses],
                definitions=list(product.fields),
                owners=owners,
            )
        finally:
            session.close()
            database.dispose()


def write_file(path: Path, setup: Setup, rows: int, columns: str, seed: int = 13) -> int:
    """The CSV file an import reads (as an export writes its cells); its size in bytes."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with path.open("w", encoding="utf-8", newline="") as output:
        writer = csv.writer(output, lineterminator="\r\n")
        if columns == "title":
            writer.writerow(["title"])
            for number in range(rows):
                writer.writerow([f"x{number}"])
        else:
            keys = [definition["key"] for definition in setup.definitions]
            writer.writerow(["title", "status", "owner", *(f"field:{key}" for key in keys)])
            for number in range(rows):
                values = field_values(rng, setup.definitions, number, now, complete=False)
                writer.writerow(
                    [
                        card_title(rng, "sales", number, now),
                        rng.choice(setup.statuses),
                        rng.choice(setup.owners) if rng.random() < 0.9 else "",
                        *(
                            cell_of(definition, values.get(definition["key"]))
                            for definition in setup.definitions
                        ),
                    ]
                )
    return path.stat().st_size


# --- the other writer and the worker's memory ---------------------------------------------------


class Writer(threading.Thread):
    """Renames a card through the API every ``think`` seconds; keeps every answer's latency."""

    def __init__(self, port: int, token: str, card_id: int, think: float) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.card_id, self.think = port, token, card_id, think
        self.records: list[tuple[float, float, int]] = []  # (start, seconds, status)
        self.stopping = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        number = 0
        while not self.stopping.is_set():
            number += 1
            body = json.dumps({"title": f"Renamed {number}"})
            started = time.perf_counter()
            try:
                connection.request(
                    "PATCH",
                    f"/api/v1/cards/{self.card_id}",
                    body=body,
                    headers=_headers(self.token, "application/json"),
                )
                answer = connection.getresponse()
                answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                status = 0
            self.records.append((started, time.perf_counter() - started, status))
            self.stopping.wait(self.think)
        connection.close()

    def between(self, start: float, end: float) -> list[tuple[float, float, int]]:
        return [record for record in self.records if start <= record[0] < end]


class MemoryWatch(threading.Thread):
    """Samples a process's ``VmRSS`` every ``SAMPLE_EVERY`` seconds; the kernel's own peak
    (``VmHWM``) is reset at the start, and read at the end."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        _reset_peak(pid)
        self.before = _memory(pid)["VmRSS"]
        self.peak = self.before
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(SAMPLE_EVERY):
            self.peak = max(self.peak, _memory(self.pid).get("VmRSS", 0))

    def stop(self) -> dict[str, float]:
        self.stopping.set()
        self.join()
        now = _memory(self.pid)
        peak = max(self.peak, now.get("VmHWM", 0))
        return {
            "rss_before_mb": _mb(self.before),
            "rss_peak_mb": _mb(peak),
            "rss_after_mb": _mb(now["VmRSS"]),
            "growth_mb": _mb(peak - self.before),
            "retained_mb": _mb(now["VmRSS"] - self.before),
        }


def _memory(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of a process, in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def _reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError):  # not allowed: the sampled peak still counts
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _headers(token: str, content_type: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": content_type}


def _mb(kilobytes: float) -> float:
    return round(kilobytes / 1024, 1)


def worker_pid(master: int) -> int:
    """The (only) gunicorn worker under ``master``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == master:
                    return int(entry.name)
        time.sleep(0.1)
    raise SystemExit(f"no gunicorn worker under process {master}")


# --- one import -----------------------------------------------------------------------------------


def upload(port: int, setup: Setup, path: Path, timeout: float = 900) -> tuple[int, Any, float]:
    """POST the file as the body: (status, answer, seconds)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = _headers(setup.member_token, "text/csv")
    headers["Content-Length"] = str(path.stat().st_size)
    started = time.perf_counter()
    with path.open("rb") as body:
        connection.request(
            "POST", f"/api/v1/products/{setup.product_id}/cards.csv", body=body, headers=headers
        )
        answer = connection.getresponse()
        payload = answer.read()
    seconds = time.perf_counter() - started
    connection.close()
    try:
        return answer.status, json.loads(payload), seconds
    except ValueError:
        return answer.status, payload[:500].decode(errors="replace"), seconds


def latencies(records: list[tuple[float, float, int]]) -> dict[str, Any]:
    times = sorted(seconds * 1000 for _start, seconds, _status in records)
    statuses = Counter(status for _start, _seconds, status in records)
    if not times:
        return {"count": 0, "statuses": {}}
    quantiles = (
        statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
    )
    return {
        "count": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(quantiles[94], 1),
        "p99_ms": round(quantiles[98], 1),
        "max_ms": round(times[-1], 1),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
    }


def run(args: argparse.Namespace, log: Any = print) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="cardcrm-bench-csv-"))
    setup = make_database(folder)
    csv_path = folder / "cards.csv"
    size = write_file(csv_path, setup, args.rows, args.columns)
    warmup_path = folder / "warmup.csv"
    write_file(warmup_path, setup, 100, args.columns, seed=1)
    log(f"{args.rows:,} rows, {size / 1024 / 1024:.1f} MiB, in {folder}")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(
        CARDCRM_DATABASE_URL=setup.url,
        CARDCRM_DATA_DIR=str(folder),
        CARDCRM_SECRET_KEY=secrets.token_urlsafe(32),
        CARDCRM_CSV_MAX_MB=str(max(32, size // 1024 // 1024 + 1)),
        CARDCRM_CSV_MAX_ROWS=str(max(100_000, args.rows)),
    )
    command = core_command(args.workers, args.threads)
    if args.code:
        env["PYTHONPATH"] = _code_path(Path(args.code), folder)
        # That code may have migrations of its own on top of these.
        subprocess.run([*command[:1], "db", "upgrade"], env=env, check=True, cwd=folder)
    results: dict[str, Any] = {
        "dialect": "sqlite",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "code": args.label or _code_version(),
        "machine": {"cpus": os.cpu_count(), "load_before": _load()},
        "config": {
            "rows": args.rows,
            "columns": args.columns,
            "file_bytes": size,
            "workers": args.workers,
            "threads": args.threads,
            "think_seconds": args.think,
            "baseline_seconds": args.baseline,
        },
        "rounds": [],
    }
    with serving(command, env, folder, "/healthz") as server:
        worker = worker_pid(server.process.pid)
        status, answer, _seconds = upload(server.port, setup, warmup_path)
        if status != 200:
            raise SystemExit(f"the warm-up import failed: {status} {answer}")
        writer = Writer(server.port, setup.writer_token, setup.writer_card, args.think)
        writer.start()
        try:
            for number in range(1, args.rounds + 1):
                log(f"round {number}: the other writer alone for {args.baseline:g} s ...")
                time.sleep(args.baseline)
                log(f"round {number}: importing {args.rows:,} rows ...")
                results["rounds"].append(
                    _import_round(server.port, setup, csv_path, worker, writer)
                )
                log(f"  {_round_line(results['rounds'][-1])}")
            time.sleep(args.baseline)
        finally:
            writer.stopping.set()
            writer.join()
        results["baseline_windows"] = _baselines(writer, results["rounds"])
    results["machine"]["load_after"] = _load()
    results["aims"] = aims(results)
    return results


def _import_round(
    port: int, setup: Setup, path: Path, worker: int, writer: Writer
) -> dict[str, Any]:
    memory = MemoryWatch(worker)
    memory.start()
    cpu_before = tree_cpu_seconds(worker)
    started = time.perf_counter()
    status, answer, seconds = upload(port, setup, path)
    ended = time.perf_counter()
    return {
        "status": status,
        "answer": answer,
        "seconds": round(seconds, 2),
        "worker_cpu_seconds": round(tree_cpu_seconds(worker) - cpu_before, 2),
        "memory": memory.stop(),
        "writer": latencies(writer.between(started, ended)),
        "window": [started, ended],
        "load": _load(),
    }


def _baselines(writer: Writer, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The other writer's latencies outside every import (before, between and after them)."""
    windows = [round_["window"] for round_ in rounds]
    outside = [
        record
        for record in writer.records
        if not any(start - 0.5 <= record[0] < end + 0.5 for start, end in windows)
    ]
    return latencies(outside)


def aims(results: dict[str, Any]) -> dict[str, Any]:
    rounds = [round_ for round_ in results["rounds"] if round_["status"] == 200]
    if not rounds:
        return {"imported": False}
    rows = results["config"]["rows"]
    slowest = max(round_["seconds"] for round_ in rounds) * AIM_ROWS / rows
    waited = max(round_["writer"].get("max_ms", 0) for round_ in rounds) / 1000
    grew = max(round_["memory"]["growth_mb"] for round_ in rounds)
    failed = sum(
        count
        for round_ in results["rounds"]
        for code, count in round_["writer"].get("statuses", {}).items()
        if code != "200"
    )
    return {
        "imported": len(rounds) == len(results["rounds"]),
        f"{AIM_ROWS:,} rows in under {AIM_SECONDS:g} s (slowest, scaled)": slowest < AIM_SECONDS,
        f"other writer never waited {AIM_WAIT_SECONDS:g} s or more": waited < AIM_WAIT_SECONDS,
        "other writer got no error": failed == 0,
        f"worker grew by less than {AIM_GROWTH_MB:g} MB": grew < AIM_GROWTH_MB,
    }


# --- reporting ------------------------------------------------------------------------------------


def table(results: dict[str, Any], name: str = "") -> str:
    """The results as a Markdown table (what ``--docs`` writes)."""
    config, machine = results["config"], results["machine"]
    lines = [
        f"`{name}`" if name else "",
        "",
        f"{config['rows']:,} rows ({config['columns']} columns, "
        f"{config['file_bytes'] / 1024 / 1024:.1f} MiB), SQLite, `cardcrm serve core "
        f"--workers {config['workers']} --threads {config['threads']}`, code "
        f"`{results['code']}`, {machine['cpus']} CPUs, load average "
        f"{machine['load_before']} before and {machine['load_after']} after.",
        "",
        "| round | answer | import s | worker CPU s | worker RSS before → peak MB | growth MB "
        "| other writer during the import: n, p50 / p95 / max ms, errors | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, round_ in enumerate(results["rounds"], start=1):
        answer = round_["answer"]
        summary = (
            (f"{answer.get('created', 0):,} created" if isinstance(answer, dict) else "")
            if round_["status"] == 200
            else _short(answer)
        )
        memory, writer = round_["memory"], round_["writer"]
        lines.append(
            f"| {number} | {round_['status']} {summary} | {round_['seconds']:.1f} "
            f"| {round_['worker_cpu_seconds']:.1f} "
            f"| {memory['rss_before_mb']:.0f} → {memory['rss_peak_mb']:.0f} "
            f"| {memory['growth_mb']:.1f} | {_writer(writer)} | {round_['load']} |"
        )
    base = results["baseline_windows"]
    lines += [
        "",
        f"The other writer alone (between the imports, interleaved with them): {_writer(base)}.",
        "",
        *(f"- aim: {text}: {'yes' if ok else 'NO'}" for text, ok in results["aims"].items()),
    ]
    return "\n".join(lines).strip("\n") + "\n"


def _writer(summary: dict[str, Any]) -> str:
    if not summary.get("count"):
        return "no request"
    errors = sum(count for code, count in summary["statuses"].items() if code != "200")
    return (
        f"{summary['count']}, {summary['p50_ms']:.0f} / {summary['p95_ms']:.0f} / "
        f"{summary['max_ms']:.0f}, {errors}"
    )


def _short(answer: Any) -> str:
    if isinstance(answer, dict):
        return str(answer.get("detail", ""))[:80]
    return str(answer)[:80]


def _round_line(round_: dict[str, Any]) -> str:
    return (
        f"{round_['status']} in {round_['seconds']:.1f} s, worker CPU "
        f"{round_['worker_cpu_seconds']:.1f} s, growth {round_['memory']['growth_mb']:.1f} MB, "
        f"other writer {_writer(round_['writer'])}"
    )


def write_docs(kind: str, text: str) -> None:
    """Put ``text`` between the ``kind`` markers in docs/benchmarks.md."""
    document = DOCS.read_text()
    opening, closing = f"<!-- {kind}: begin -->", f"<!-- {kind}: end -->"
    begin, end = document.index(opening) + len(opening), document.index(closing)
    DOCS.write_text(document[:begin] + "\n" + text + document[end:])


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _code_path(code: Path, folder: Path) -> str:
    """A PYTHONPATH under which ``cardcrm`` is the checkout ``code`` (its ``services``)."""
    link = folder / "code" / "cardcrm"
    link.parent.mkdir()
    link.symlink_to(code.resolve() / "services")
    return str(link.parent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.csv_import", description=__doc__)
    parser.add_argument("--rows", type=int, default=AIM_ROWS)
    parser.add_argument("--columns", choices=("full", "title"), default="full")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=float, default=5.0, help="writer-only seconds")
    parser.add_argument("--think", type=float, default=0.05, help="the writer's pause, s")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--code", help="measure another checkout's services (e.g. main's)")
    parser.add_argument("--label", help="name the code measured (default: the commit)")
    parser.add_argument("--name", default="", help="results file name suffix (e.g. before)")
    parser.add_argument("--docs", action="store_true", help="write the table into the docs")
    args = parser.parse_args(argv)
    results = run(args)
    kind = f"csv-import{'-' + args.name if args.name else ''}"
    path = report.save(kind, results)
    text = table(results, path.name)
    print()
    print(text)
    print(f"results: {path}")
    if args.docs:
        write_docs(kind, text)
        print(f"written into {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
