"""Load test: core under gunicorn, many users at once, next to a bare Flask app's ceiling.

``python -m bench load --url URL`` (``bench/README.md``, "Load test"):

1. Makes sure the database at ``URL`` holds data: it is reused when it has cards, otherwise
   ``bench.generate`` fills it (``--cards``, ``--tasks``... sizes). The test writes into it
   (cards, tasks, moves), so give it its own database.
2. Gives each simulated user a token of a generated user of its own (non-admin members first;
   every tenth member sees only their own cards in the main product).
3. Starts ``cardcrm serve core`` (gunicorn, gthread, ``--workers``/``--threads``) on a free
   port and runs the users against it, each on its own kept-alive HTTP/1.1 connection, for
   ``--duration`` seconds after ``--warmup`` unrecorded ones, in phases:

   - *paced*: each user waits ``--think`` seconds on average (uniform from half to one and a
     half times that) between two requests, like a person clicking; the latency aims
     (no 5xx, p95 under 100 ms) are checked on this phase;
   - *saturated*: no waiting, every user sends its next request as soon as the last one is
     answered: the server's throughput at full load;
   - *each kind alone* (``--demand`` seconds each, ``measure_demand``): the CPU cost of every
     kind of request.

4. Runs the same client, users and duration against ``bench.hello`` (one Flask endpoint)
   under the same gunicorn options, without waiting: its throughput is the ceiling, and the
   core's saturated throughput is given as a share of it.

The client is one asyncio process with a minimal HTTP/1.1 client (no third-party library), so
that it takes little of the CPUs it shares with the server. The CPU time of the client, of the
gunicorn processes, of the database's backends (PostgreSQL on this machine) and of the whole
machine is sampled at the start and end of each recorded window.

The mix (``MIX``) is what a team does in a day: the Today view, card lists with filters and
their next pages, a card and its tasks, new cards, edits and moves (``PATCH`` with
``If-Match``), new tasks, closing and postponing them. A stale ``If-Match`` (another user
changed the card since it was read) gets 412: counted as an expected conflict, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

import cardcrm
from cardcrm.common.db import get_db, write_transaction
from cardcrm.core import create_app
from cardcrm.core.auth.models import ApiToken, User
from cardcrm.core.auth.service import create_token
from cardcrm.core.cards.models import Card
from cardcrm.core.migrate import upgrade
from cardcrm.core.products.models import Membership
from sqlalchemy import create_engine, delete, func, inspect, select, text
from sqlalchemy.engine import make_url

from . import report
from .database import RESULTS, dialect_of, display_url, read_marker
from .dataset import Sizes
from .generate import generate
from .hello import PATH as HELLO_PATH
from .timing import machine

ROOT = Path(__file__).resolve().parent.parent
CARDCRM = Path(sys.executable).with_name("cardcrm")
DEFAULT_URL = f"sqlite:///{RESULTS / 'cardcrm-load.db'}"
#: The issue's aims (18): the paced phase's p95 and errors, each endpoint's saturated throughput
#: as a share of the bare Flask app's, the mix's saturated throughput against the figure before.
AIM_P95_MS = 50.0
AIM_SHARE_OF_HELLO = 0.20
AIM_MIXED_FACTOR = 5.0
#: The 50-user mix, saturated, on PostgreSQL before issue 18 (req/s; ``--before-mixed``).
BEFORE_MIXED_PER_SECOND = 80.0
#: Paced: one action every 0.5 s per user, 2 requests/s each.
PACED_THINK = 0.5
#: Sizes generated into an empty database (a team's CRM after a year or two).
LOAD_SIZES = Sizes(cards=50_000, tasks=500_000)
#: Action → weight: what the simulated users do, in proportion.
MIX: dict[str, int] = {
    "today": 15,
    "card list": 18,
    "card list, next page": 5,
    "card": 16,
    "card tasks": 10,
    "create card": 4,
    "edit card": 6,
    "move card": 4,
    "create task": 6,
    "close task": 4,
    "postpone task": 4,
}
#: Share of the cards opened that come from a small pool shared by every user (the top of the
#: main product's list), so that two users sometimes edit the same card: the 412s.
HOT_SHARE = 0.25
#: Hello's req/s apart by more than this from round to round: the run is flagged as unsteady.
UNSTEADY = 0.10
#: Users of each kind's own short phase (``measure_demand``).
DEMAND_USERS = 4
SAFE_METHODS = ("GET", "HEAD")
TITLE_WORDS = ("Renewal", "Offer", "Upgrade", "Pilot", "Licence", "Support", "Training")


# --- the data and the tokens ------------------------------------------------------------------


@dataclass
class Account:
    """A simulated user's identity: a token of a real user, and what the user may see."""

    token: str
    token_id: int
    user_id: int
    own_cards_only: bool


def prepare(url: str, sizes: Sizes, *, regenerate: bool, log: Callable[[str], None]) -> None:
    """Reuse the data at ``url`` when it holds cards; generate it otherwise."""
    if regenerate or not _holds_cards(url):
        generate(url, sizes, force=regenerate, log=log)
    else:
        log(f"reusing the data in {display_url(url)}")
    upgrade(url)  # idempotent: brings an older generated schema to the current migrations


def _holds_cards(url: str) -> bool:
    if dialect_of(url) == "sqlite":
        path = make_url(url).database
        if not path or not Path(path).exists():
            return False
    elif dialect_of(url) == "postgresql":
        parsed = make_url(url)
        admin = create_engine(parsed.set(database="postgres"))
        try:
            with admin.connect() as connection:
                exists = connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"),
                    {"name": parsed.database},
                )
        finally:
            admin.dispose()
        if not exists:
            return False
    engine = create_engine(url)
    try:
        if "cards" not in inspect(engine).get_table_names():
            return False
        with engine.connect() as connection:
            return bool(connection.scalar(text("SELECT count(*) FROM cards")))
    finally:
        engine.dispose()


def make_accounts(url: str, count: int) -> tuple[list[Account], int]:
    """``count`` tokens over the users who see the main product; returns them and its id.

    The main product is the one with the most cards. Non-admin members come first, so that
    access rules are part of the load; users are reused (each with a token of its own) when
    there are fewer than ``count``.
    """
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-load", "TESTING": True})
    with app.app_context():
        database = get_db()
        session = database.session()
        try:
            product_id = session.scalar(
                select(Card.product_id)
                .group_by(Card.product_id)
                .order_by(func.count().desc(), Card.product_id)
                .limit(1)
            )
            members = dict(
                session.execute(
                    select(Membership.user_id, Membership.own_cards_only).where(
                        Membership.product_id == product_id
                    )
                ).all()
            )
            users = list(session.scalars(select(User).order_by(User.is_admin, User.id)))
            users = [user for user in users if user.is_admin or user.id in members]
            if not users:
                raise SystemExit(f"nobody may see product {product_id} in {display_url(url)}")
            accounts = []
            for number in range(count):
                user = users[number % len(users)]
                token, row = create_token(session, user=user, name=f"bench.load {number}")
                accounts.append(Account(token, row.id, user.id, members.get(user.id, False)))
            return accounts, product_id
        finally:
            session.close()
            database.dispose()


def forget_accounts(url: str, accounts: list[Account]) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-load", "TESTING": True})
    with app.app_context():
        database = get_db()
        session = database.session()
        try:
            with write_transaction(session):
                ids = [account.token_id for account in accounts]
                session.execute(delete(ApiToken).where(ApiToken.id.in_(ids)))
        finally:
            session.close()
            database.dispose()


# --- the servers ------------------------------------------------------------------------------


@dataclass
class Server:
    host: str
    port: int
    process: subprocess.Popen
    log_path: Path


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@contextmanager
def serving(
    command: list[str],
    env: dict[str, str],
    folder: Path,
    probe: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[Server]:
    """Run ``command`` (it gets ``--host``/``--port``) until the block ends, once ``probe``
    answers 200. Port 0 picks a free one; a given port lets several runs share the machine."""
    port = port or free_port(host)
    log_path = folder / f"server-{port}.log"
    command = [*command, "--host", host, "--port", str(port)]
    with log_path.open("ab") as output:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(f"http://{host}:{port}{probe}", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (URLError, OSError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{' '.join(command)} did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield Server(host, port, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def core_command(workers: int, threads: int) -> list[str]:
    return [str(CARDCRM), "serve", "core", "--workers", str(workers), "--threads", str(threads)]


def hello_command(workers: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.hello",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]


def server_env(url: str, folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(
        CARDCRM_DATABASE_URL=url,
        CARDCRM_DATA_DIR=str(folder),
        CARDCRM_SECRET_KEY="bench-load-secret-key-0123456789",
    )
    return env


def server_errors(log_path: Path, keep: int = 3) -> dict[str, Any]:
    """The tracebacks in a server's log (the access log lines are skipped)."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("Traceback"):
            current = [line]
            blocks.append("")
        elif current is not None:
            if line.startswith((" ", "\t")) or not re.match(r"^\[?\d|^\S+ - - \[", line):
                current.append(line)
            else:
                current = None
        if current is not None:
            blocks[-1] = "\n".join(current)
    return {"tracebacks": len(blocks), "first": blocks[:keep]}


# --- CPU time from /proc ----------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_ticks(pid: int) -> tuple[int, int] | None:
    """(parent pid, user + system ticks) of a process, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds used so far by ``root`` and its living descendants (gunicorn's workers)."""
    table: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _process_ticks(int(entry.name))
            if found is not None:
                table[int(entry.name)] = found
    tree, ticks, grew = {root}, 0, True
    while grew:
        grew = False
        for pid, (parent, _) in table.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    ticks = sum(table[pid][1] for pid in tree if pid in table)
    return ticks / TICK


def children(root: int) -> list[int]:
    """The living child processes of ``root``: gunicorn's workers under its master."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ticks = _process_ticks(int(entry.name))
            if ticks is not None and ticks[0] == root:
                found.append(int(entry.name))
    return sorted(found)


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (``VmRSS``), or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def workers_rss_mb(root: int) -> list[float]:
    """Each gunicorn worker's resident memory in MB."""
    return [value for pid in children(root) if (value := rss_mb(pid)) is not None]


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, over every CPU."""
    try:
        values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICK, sum(values[:8]) / TICK


class DatabaseCpu:
    """CPU time of the PostgreSQL backends connected to the database (when it runs here)."""

    def __init__(self, url: str | None) -> None:
        self.engine = None
        if (
            url
            and dialect_of(url) == "postgresql"
            and make_url(url).host
            in (
                None,
                "127.0.0.1",
                "localhost",
                "::1",
            )
        ):
            self.engine = create_engine(url)

    def sample(self) -> dict[int, int]:
        if self.engine is None:
            return {}
        with self.engine.connect() as connection:
            pids = connection.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        found = {pid: _process_ticks(pid) for pid in pids}
        return {pid: value[1] for pid, value in found.items() if value is not None}

    @staticmethod
    def seconds_between(before: dict[int, int], after: dict[int, int]) -> float:
        return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / TICK

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


# --- a minimal HTTP/1.1 client ----------------------------------------------------------------


class ConnectionLost(Exception):
    """The server closed the connection before answering."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One kept-alive HTTP/1.1 connection, reopened when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> Answer:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
        for _attempt in range(2):
            fresh = self.writer is None or self.reader is None or self.reader.at_eof()
            if fresh:
                await self._open()
            assert self.reader is not None and self.writer is not None
            try:
                self.writer.write(data)
                raw_head = await self.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                partial = getattr(error, "partial", b"")
                self.close()
                # A kept-alive connection the server closed while idle: nothing was answered,
                # so a safe request may be sent again on a new connection.
                if fresh or partial or method not in SAFE_METHODS:
                    raise ConnectionLost(repr(error)) from error
                continue
            return await self._answer(method, raw_head)
        raise ConnectionLost("closed twice")

    async def _open(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def _answer(self, method: str, raw_head: bytes) -> Answer:
        assert self.reader is not None
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        try:
            if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                body = b""
            elif "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                body = await self._chunked()
            else:
                body = await self.reader.read()
                headers["connection"] = "close"
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            self.close()
            raise ConnectionLost(repr(error)) from error
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Answer(status, headers, body)

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return b"".join(parts)
            parts.append((await self.reader.readexactly(size + 2))[:-2])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# --- recording --------------------------------------------------------------------------------


@dataclass
class Recorder:
    """Latencies and answers per kind of request, for requests started inside the window."""

    start: float = float("inf")
    stop: float = float("inf")
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    lost: Counter = field(default_factory=Counter)  # connection errors per kind
    client_errors: Counter = field(default_factory=Counter)  # bugs of the simulated users
    #: the first answers that were neither a success nor a 412, to tell what went wrong
    unexpected: list[dict[str, Any]] = field(default_factory=list)

    def records(self, started: float) -> bool:
        return self.start <= started < self.stop

    def add(self, kind: str, started: float, status: int | None) -> None:
        if not self.records(started):
            return
        if status is None:
            self.lost[kind] += 1
            return
        self.latencies[kind].append(time.perf_counter() - started)
        self.statuses[kind][status] += 1

    def note(self, kind: str, method: str, path: str, answer: Answer) -> None:
        if len(self.unexpected) < 10:
            detail = answer.body[:300].decode("utf-8", errors="replace")
            self.unexpected.append(
                {
                    "kind": kind,
                    "request": f"{method} {path}",
                    "status": answer.status,
                    "body": detail,
                }
            )


def summary(latencies: list[float], statuses: Counter, lost: int, seconds: float) -> dict:
    """Count, throughput, percentiles (ms) and the answers of one kind of request (or all)."""
    ms = sorted(value * 1000 for value in latencies)
    count = len(ms)
    result: dict[str, Any] = {
        "count": count,
        "per_second": round(count / seconds, 1) if seconds else None,
    }
    if count >= 2:
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        result.update(
            p50_ms=round(cuts[49], 1),
            p95_ms=round(cuts[94], 1),
            p99_ms=round(cuts[98], 1),
            max_ms=round(ms[-1], 1),
            mean_ms=round(statistics.fmean(ms), 1),
        )
    elif count == 1:
        result.update(p50_ms=round(ms[0], 1), p95_ms=round(ms[0], 1), p99_ms=round(ms[0], 1))
    client_errors = {
        str(code): n for code, n in sorted(statuses.items()) if 400 <= code < 500 and code != 412
    }
    result.update(
        conflicts_412=statuses.get(412, 0),
        client_errors_4xx=client_errors,
        server_errors_5xx=sum(n for code, n in statuses.items() if code >= 500),
        connection_errors=lost,
        statuses={str(code): n for code, n in sorted(statuses.items())},
    )
    return result


# --- the simulated users ----------------------------------------------------------------------


class Shared:
    """What the users of one run share: the top of the main product's list (the hot cards)."""

    def __init__(self) -> None:
        self.hot: list[int] = []


class SimulatedUser:
    """One person: a token, a connection, what they last saw, and the mix of actions."""

    def __init__(
        self,
        account: Account,
        product_id: int,
        connection: Connection,
        recorder: Recorder,
        shared: Shared,
        seed: int,
    ) -> None:
        self.account = account
        self.product_id = product_id
        self.connection = connection
        self.recorder = recorder
        self.shared = shared
        self.rng = random.Random(seed)
        self.headers = {"Authorization": f"Bearer {account.token}", "Accept": "application/json"}
        self.statuses: list[int] = []
        self.fields: list[dict[str, Any]] = []
        #: card id → {"version", "status_id"} of the cards this user has seen lately
        self.cards: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.current: int | None = None  # the card open on screen
        #: task id → {"version", "due", "all_day"} of this user's open tasks seen lately
        self.tasks: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.next_page: str | None = None  # the card list's next page, filters included
        self.actions = list(MIX)
        self.weights = list(MIX.values())

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        body: Any = None,
        if_match: int | None = None,
    ) -> Answer | None:
        headers = dict(self.headers)
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        payload = None if body is None else json.dumps(body).encode()
        started = time.perf_counter()
        try:
            answer = await self.connection.request(method, path, headers, payload)
        except (ConnectionLost, OSError):
            self.recorder.add(kind, started, None)
            return None
        self.recorder.add(kind, started, answer.status)
        if answer.status >= 400 and answer.status != 412 and self.recorder.records(started):
            self.recorder.note(kind, method, path, answer)
        return answer

    async def begin(self) -> None:
        """Open the app: the product (its statuses and fields) and its card list."""
        answer = await self.call("product", "GET", f"/api/v1/products/{self.product_id}")
        if answer is not None and answer.status == 200:
            product = answer.json()
            self.statuses = [status["id"] for status in product["statuses"]]
            self.fields = product.get("fields") or []
        await self.card_list(filtered=False)

    async def step(self) -> None:
        action = self.rng.choices(self.actions, self.weights)[0]
        await ACTIONS[action](self)

    # reads

    async def today(self) -> None:
        answer = await self.call("today", "GET", "/api/v1/today")
        if answer is None or answer.status != 200:
            return
        for task in answer.json()["tasks"]:
            if task["status"] == "open":
                self._remember_task(task)
            self._remember_card(task["card"]["id"], None, task["product"]["id"])

    async def card_list(self, filtered: bool = True) -> None:
        query = f"limit=50{self._filter() if filtered else ''}"
        path = f"/api/v1/products/{self.product_id}/cards?{query}"
        answer = await self.call("card list", "GET", path)
        if answer is not None and answer.status == 200:
            page = answer.json()
            self._cards_seen(page)
            if not filtered and not self.account.own_cards_only:
                self.shared.hot = [card["id"] for card in page["items"][:20]]
            self.next_page = (
                f"{path}&cursor={page['next_cursor']}" if page.get("next_cursor") else None
            )

    async def card_list_next(self) -> None:
        if self.next_page is None:
            return await self.card_list()
        answer = await self.call("card list, next page", "GET", self.next_page)
        if answer is not None and answer.status == 200:
            page = answer.json()
            self._cards_seen(page)
            base = self.next_page.split("&cursor=")[0]
            self.next_page = f"{base}&cursor={page['next_cursor']}" if page["next_cursor"] else None

    async def card(self, main_only: bool = False) -> None:
        card_id = self._pick_card(main_only)
        if card_id is None:
            return await self.card_list(filtered=False)
        answer = await self.call("card", "GET", f"/api/v1/cards/{card_id}")
        if answer is not None and answer.status == 200:
            card = answer.json()
            self._remember_card(card["id"], card)
            self.current = card["id"]
        elif answer is not None and answer.status == 404:
            self.cards.pop(card_id, None)

    async def card_tasks(self) -> None:
        card_id = self.current or self._pick_card()
        if card_id is None:
            return await self.card_list(filtered=False)
        answer = await self.call("card tasks", "GET", f"/api/v1/cards/{card_id}/tasks?limit=50")
        if answer is not None and answer.status == 200:
            for task in answer.json()["items"]:
                if task["status"] == "open" and task["assignee_id"] == self.account.user_id:
                    self._remember_task(task)

    # writes

    async def create_card(self) -> None:
        body: dict[str, Any] = {"title": self._title()}
        required = {item["key"]: item for item in self.fields if item.get("required")}
        if required:
            body["fields"] = {key: _sample_value(item) for key, item in required.items()}
        path = f"/api/v1/products/{self.product_id}/cards"
        answer = await self.call("create card", "POST", path, body)
        if answer is not None and answer.status == 201:
            card = answer.json()
            self._remember_card(card["id"], card)
            self.current = card["id"]

    async def edit_card(self) -> None:
        card = await self._open_card()
        if card is not None:
            await self._write_card("edit card", card, {"title": self._title()})

    async def move_card(self) -> None:
        card = await self._open_card(main_only=True)  # the statuses known are the main product's
        if card is not None:
            others = [status for status in self.statuses if status != card["status_id"]]
            if others:
                await self._write_card("move card", card, {"status_id": self.rng.choice(others)})

    async def create_task(self) -> None:
        card = await self._open_card()
        if card is None:
            return
        due = _quarter(datetime.now(UTC) + timedelta(hours=self.rng.randint(2, 240)))
        body = {"text": f"Call back about {self.rng.choice(TITLE_WORDS).lower()}", "due": due}
        answer = await self.call("create task", "POST", f"/api/v1/cards/{card['id']}/tasks", body)
        if answer is not None and answer.status == 201:
            self._remember_task(answer.json())

    async def close_task(self) -> None:
        task_id = await self._pick_task()
        if task_id is None:
            return
        task = self.tasks.pop(task_id)
        path = f"/api/v1/tasks/{task_id}/close"
        await self.call("close task", "POST", path, {"outcome": "done"}, task["version"])

    async def postpone_task(self) -> None:
        task_id = await self._pick_task()
        if task_id is None:
            return
        task = self.tasks[task_id]
        due = datetime.fromisoformat(task["due"].replace("Z", "+00:00"))
        if task["all_day"]:
            later = (due + timedelta(days=self.rng.randint(2, 4))).date().isoformat()
        else:
            start = max(due, datetime.now(UTC))
            later = _quarter(start + timedelta(days=self.rng.randint(1, 3)))
        path = f"/api/v1/tasks/{task_id}/postpone"
        answer = await self.call("postpone task", "POST", path, {"due": later}, task["version"])
        if answer is not None and answer.status == 200:
            self._remember_task(answer.json())
        else:
            self.tasks.pop(task_id, None)

    # helpers

    async def _open_card(self, main_only: bool = False) -> dict[str, Any] | None:
        """The card on screen; one is opened first when there is none (or none of the main
        product, with ``main_only``)."""
        known = self.cards.get(self.current) if self.current is not None else None
        if (
            known is None
            or known["version"] is None
            or (main_only and known["product_id"] != self.product_id)
        ):
            await self.card(main_only)
            known = self.cards.get(self.current) if self.current is not None else None
        if known is None or known["version"] is None:
            return None
        if main_only and known["product_id"] != self.product_id:
            return None
        return known

    async def _write_card(self, kind: str, card: dict[str, Any], body: dict[str, Any]) -> None:
        path = f"/api/v1/cards/{card['id']}"
        answer = await self.call(kind, "PATCH", path, body, card["version"])
        if answer is None:
            return
        if answer.status == 200:
            self._remember_card(card["id"], answer.json())
        else:  # 412: someone changed it meanwhile; the user reloads it before the next edit
            card["version"] = None

    async def _pick_task(self) -> int | None:
        """One of the user's open tasks: from the Today view, or a new one when it has none."""
        if not self.tasks:
            await self.today()
        if not self.tasks:
            await self.create_task()
        if not self.tasks:
            return None
        return self.rng.choice(list(self.tasks))

    def _pick_card(self, main_only: bool = False) -> int | None:
        if self.shared.hot and not self.account.own_cards_only and self.rng.random() < HOT_SHARE:
            return self.rng.choice(self.shared.hot)
        known = [
            card_id
            for card_id, card in self.cards.items()
            if not main_only or card["product_id"] == self.product_id
        ]
        return self.rng.choice(known) if known else None

    def _cards_seen(self, page: dict[str, Any]) -> None:
        for card in page["items"]:
            self._remember_card(card["id"], card)

    def _remember_card(
        self, card_id: int, card: dict[str, Any] | None, product_id: int | None = None
    ) -> None:
        known = self.cards.pop(card_id, None) or {
            "id": card_id,
            "version": None,
            "status_id": None,
            "product_id": product_id,
        }
        if card is not None:
            known.update(
                version=card["version"], status_id=card["status_id"], product_id=card["product_id"]
            )
        self.cards[card_id] = known
        while len(self.cards) > 300:
            self.cards.popitem(last=False)

    def _remember_task(self, task: dict[str, Any]) -> None:
        self.tasks.pop(task["id"], None)
        if task["status"] == "open":
            self.tasks[task["id"]] = {
                "version": task["version"],
                "due": task["due"],
                "all_day": task["all_day"],
            }
        while len(self.tasks) > 200:
            self.tasks.popitem(last=False)

    def _filter(self) -> str:
        choice = self.rng.random()
        if choice < 0.35 or not self.statuses:
            return ""
        if choice < 0.55:
            return f"&status_id={self.rng.choice(self.statuses)}"
        if choice < 0.7:
            return "&group=" + self.rng.choice(("inactive", "in_progress"))
        if choice < 0.8:
            return f"&owner_id={self.account.user_id}"
        if choice < 0.9:
            return "&closed=false"
        return "&q=" + self.rng.choice(("a", "in", "co", "gmbh", "ltd", "on"))

    def _title(self) -> str:
        return f"{self.rng.choice(TITLE_WORDS)} {self.rng.randint(1, 99_999)}"


ACTIONS: dict[str, Callable[[SimulatedUser], Any]] = {
    "today": SimulatedUser.today,
    "card list": SimulatedUser.card_list,
    "card list, next page": SimulatedUser.card_list_next,
    "card": SimulatedUser.card,
    "card tasks": SimulatedUser.card_tasks,
    "create card": SimulatedUser.create_card,
    "edit card": SimulatedUser.edit_card,
    "move card": SimulatedUser.move_card,
    "create task": SimulatedUser.create_task,
    "close task": SimulatedUser.close_task,
    "postpone task": SimulatedUser.postpone_task,
}


def _quarter(moment: datetime) -> str:
    moment = moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _sample_value(field_definition: dict[str, Any]) -> Any:
    kind = field_definition.get("type")
    if field_definition.get("choices"):
        return field_definition["choices"][0]
    return {
        "number": 1,
        "money": "100.00",
        "date": datetime.now(UTC).date().isoformat(),
        "email": "someone@example.com",
        "phone": "+40 700 000 000",
        "url": "https://example.com/",
    }.get(kind, "bench")


class HelloUser:
    """The ceiling's user: one GET of the bare Flask endpoint after the other."""

    def __init__(self, connection: Connection, recorder: Recorder) -> None:
        self.connection = connection
        self.recorder = recorder
        self.rng = random.Random(0)

    async def begin(self) -> None:
        return None

    async def step(self) -> None:
        started = time.perf_counter()
        try:
            answer = await self.connection.request("GET", HELLO_PATH, {})
        except (ConnectionLost, OSError):
            self.recorder.add("hello", started, None)
            return
        self.recorder.add("hello", started, answer.status)


# --- one phase --------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    think: float  # mean seconds between two requests of a user; 0: none


async def _drive(
    users: list[Any],
    recorder: Recorder,
    duration: float,
    warmup: float,
    think: float,
    sample: Callable[[], dict[str, float]],
) -> tuple[dict[str, float], dict[str, float]]:
    """Run the users for ``warmup + duration`` seconds; samples the CPU times at the window's
    two ends."""
    began = time.perf_counter()
    recorder.start = began + warmup
    recorder.stop = recorder.start + duration
    stagger = random.Random(1)

    async def life(user: Any) -> None:
        await asyncio.sleep(stagger.uniform(0, min(think, 2.0) or 0.2))
        try:
            await user.begin()
        except Exception as error:  # noqa: BLE001 - a bug of the simulated user, reported
            recorder.client_errors[repr(error)[:200]] += 1
        # Paced: a user starts an action every ``think`` seconds on average, however long
        # the last one took (unless it took longer: then the next starts at once, without
        # catching up), so a slow server does not lower the load it is offered much: 50 users
        # at 0.5 s are 100 actions/s.
        due = time.perf_counter()
        while time.perf_counter() < recorder.stop:
            if think:
                due += user.rng.uniform(0.5 * think, 1.5 * think)
            try:
                await user.step()
            except Exception as error:  # noqa: BLE001 - reported, and the user goes on
                recorder.client_errors[repr(error)[:200]] += 1
            if think:
                late = time.perf_counter()
                if due < late:  # the action took longer than its turn: no catching up after
                    due = late
                await asyncio.sleep(due - late)

    async def watch() -> tuple[dict[str, float], dict[str, float]]:
        await asyncio.sleep(max(0.0, recorder.start - time.perf_counter()))
        first = sample()
        await asyncio.sleep(max(0.0, recorder.stop - time.perf_counter()))
        return first, sample()

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(life(user) for user in users))
    for user in users:
        user.connection.close()
    return await watcher


def run_phase(
    server: Server,
    make_users: Callable[[Connection, Recorder, int], Any],
    count: int,
    phase: Phase,
    duration: float,
    warmup: float,
    database_cpu: DatabaseCpu,
) -> dict[str, Any]:
    recorder = Recorder()
    users = [make_users(Connection(server.host, server.port), recorder, n) for n in range(count)]

    def sample() -> dict[str, Any]:
        busy, total = machine_cpu_seconds()
        return {
            "client": time.process_time(),
            "server": tree_cpu_seconds(server.process.pid),
            "database": database_cpu.sample(),
            "machine_busy": busy,
            "machine_total": total,
        }

    first, last = asyncio.run(_drive(users, recorder, duration, warmup, phase.think, sample))
    elapsed = duration
    every = {kind: times for kind, times in recorder.latencies.items()}
    all_latencies = [value for times in every.values() for value in times]
    all_statuses: Counter = Counter()
    for statuses in recorder.statuses.values():
        all_statuses.update(statuses)
    kinds = sorted(
        set(every) | set(recorder.lost), key=lambda kind: (-len(every.get(kind, [])), kind)
    )
    result: dict[str, Any] = {
        "think_seconds": phase.think,
        "total": summary(all_latencies, all_statuses, sum(recorder.lost.values()), elapsed),
        "requests": {
            kind: summary(
                every.get(kind, []), recorder.statuses[kind], recorder.lost[kind], elapsed
            )
            for kind in kinds
        },
        "client_errors": dict(recorder.client_errors),
        "unexpected_answers": recorder.unexpected,
    }
    cpu = {
        "client_s": round(last["client"] - first["client"], 2),
        "server_s": round(last["server"] - first["server"], 2),
        "database_s": round(DatabaseCpu.seconds_between(first["database"], last["database"]), 2)
        if database_cpu.engine is not None
        else None,
        "machine_busy_s": round(last["machine_busy"] - first["machine_busy"], 2),
        "machine_capacity_s": round(last["machine_total"] - first["machine_total"], 2),
    }
    counted = cpu["client_s"] + cpu["server_s"] + (cpu["database_s"] or 0)
    cpu["other_s"] = round(cpu["machine_busy_s"] - counted, 2)
    requests = result["total"]["count"]
    if requests:
        cpu["server_ms_per_request"] = round(cpu["server_s"] * 1000 / requests, 2)
        cpu["client_ms_per_request"] = round(cpu["client_s"] * 1000 / requests, 2)
        if cpu["database_s"] is not None:
            cpu["database_ms_per_request"] = round(cpu["database_s"] * 1000 / requests, 2)
        # What the machine would serve if the server and its database had every CPU: a figure
        # that does not depend on what else runs here (the client and other work left out).
        spent = cpu["server_s"] + (cpu["database_s"] or 0)
        if spent > 0:
            cpu["capacity_per_second"] = round((os.cpu_count() or 1) * requests / spent, 1)
    result["cpu"] = cpu
    return result


def measure_demand(
    server: Server,
    make_user: Callable[[Connection, Recorder, int], SimulatedUser],
    seconds: float,
    database_cpu: DatabaseCpu,
) -> dict[str, Any]:
    """Each kind of request alone (``DEMAND_USERS`` users, no think time): its CPU cost.

    The CPU time of gunicorn (and of the PostgreSQL backends) over the window, per request of
    the kind. A kind may need others first (an edit opens a card when none is open, closing a
    task reads the Today view when the user knows no open task): their cost, measured before
    in ``MIX`` order, is taken off.
    """
    server_costs: dict[str, float] = {}
    database_costs: dict[str, float] = {}
    found: dict[str, Any] = {}
    for kind in MIX:

        def alone(
            connection: Connection, recorder: Recorder, number: int, kind: str = kind
        ) -> SimulatedUser:
            user = make_user(connection, recorder, number)
            user.actions, user.weights = [kind], [1]
            return user

        phase = run_phase(server, alone, DEMAND_USERS, Phase(kind, 0.0), seconds, 1.0, database_cpu)
        counts = {name: value["count"] for name, value in phase["requests"].items()}
        count = counts.pop(kind, 0)
        server_ms = phase["cpu"]["server_s"] * 1000
        database_ms = (phase["cpu"]["database_s"] or 0) * 1000
        for other, number in counts.items():
            server_ms -= number * server_costs.get(other, 0.0)
            database_ms -= number * database_costs.get(other, 0.0)
        if count:
            server_costs[kind] = server_ms / count
            database_costs[kind] = database_ms / count
        mine = phase["requests"].get(kind, {})
        found[kind] = {
            "count": count,
            "server_cpu_ms": round(server_costs[kind], 2) if count else None,
            "database_cpu_ms": round(database_costs[kind], 2)
            if count and database_cpu.engine is not None
            else None,
            "p50_ms": mine.get("p50_ms"),
            "p95_ms": mine.get("p95_ms"),
            "statuses": mine.get("statuses", {}),
            "other_requests": counts,
            "unattributed": [other for other in counts if other not in server_costs],
        }
    return found


# --- the whole test ---------------------------------------------------------------------------


def run(
    url: str,
    *,
    users: int = 50,
    duration: float = 60.0,
    warmup: float = 5.0,
    think: float = PACED_THINK,
    workers: int | None = None,
    threads: int = 4,
    saturate: bool = True,
    ceiling: bool = True,
    demand: float = 5.0,
    rounds: int = 3,
    round_seconds: float = 15.0,
    round_warmup: float = 3.0,
    host: str = "127.0.0.1",
    port: int = 0,
    before_mixed: float = BEFORE_MIXED_PER_SECOND,
    seed: int = 2026,
    answers_mb: float | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the phases against the prepared database at ``url``; returns the results.

    Core keeps answers (``cardcrm.core.answers``) as it does by default, so the rounds of the
    Today view alone and of the card list alone, where nothing is written, are mostly
    answered from what each worker kept; in the mix, every write makes them again.
    ``answers_mb`` sets ``CARDCRM_ANSWER_CACHE_MB`` (0: none kept, every answer made).

    Core listens on ``port`` and the ceiling on ``port + 1`` (free ports when 0). Both run the
    whole time, so that the saturated phases alternate between them in ``rounds``: in each
    round the Today view alone, the card list alone and the mix against core, and ``hello``,
    in an order that turns by one every round. Each round's ratios are to that round's
    ``hello``; their median is the figure reported.
    """
    workers = workers or 2 * (os.cpu_count() or 1)
    accounts, product_id = make_accounts(url, users)
    results: dict[str, Any] = {
        "database": display_url(url),
        "dialect": dialect_of(url),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "code": _code_version(),
        "data": (read_marker(url) or {}).get("counts", {}),
        "product_id": product_id,
        "settings": {
            "users": users,
            "distinct_users": len({account.user_id for account in accounts}),
            "own_cards_only_users": sum(account.own_cards_only for account in accounts),
            "duration_s": duration,
            "warmup_s": warmup,
            "think_s": think,
            "rounds": rounds if saturate else 0,
            "round_s": round_seconds,
            "round_warmup_s": round_warmup,
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "host": host,
            "port": port or None,
            "mix": MIX,
            "hot_share": HOT_SHARE,
            "before_mixed_per_second": before_mixed,
            "answer_cache_mb": answers_mb,
        },
        # where and when (timing.machine), with the load average at the start
        "machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg(), **machine(url)},
        "phases": {},
        "rounds": [],
    }
    shared = Shared()

    def make_user(connection: Connection, recorder: Recorder, number: int) -> SimulatedUser:
        account = accounts[number % len(accounts)]
        return SimulatedUser(account, product_id, connection, recorder, shared, seed + number)

    def only(kind: str) -> Callable[[Connection, Recorder, int], SimulatedUser]:
        def make(connection: Connection, recorder: Recorder, number: int) -> SimulatedUser:
            user = make_user(connection, recorder, number)
            user.actions, user.weights = [kind], [1]
            return user

        return make

    def hello_user(connection: Connection, recorder: Recorder, _: int) -> HelloUser:
        return HelloUser(connection, recorder)

    database_cpu = DatabaseCpu(url)
    no_database = DatabaseCpu(None)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as folder, ExitStack() as stack:
            env = server_env(url, Path(folder))
            if answers_mb is not None:
                env["CARDCRM_ANSWER_CACHE_MB"] = str(answers_mb)
            command = core_command(workers, threads)
            log(f"core: {' '.join(command[1:])} (gthread) on {display_url(url)}")
            core = stack.enter_context(
                serving(command, env, Path(folder), "/healthz", host=host, port=port)
            )
            hello = None
            if ceiling:
                command = hello_command(workers, threads)
                log(f"ceiling: {' '.join(command[1:])} (gthread)")
                hello = stack.enter_context(
                    serving(
                        command, env, Path(folder), HELLO_PATH, host=host, port=port and port + 1
                    )
                )
            if think:
                log(
                    f"  paced: {users} users, one action every {think:g} s each, "
                    f"{warmup:g} s warm-up + {duration:g} s ..."
                )
                found = run_phase(
                    core, make_user, users, Phase("paced", think), duration, warmup, database_cpu
                )
                results["phases"]["paced"] = found
                log(f"    {_one_line(found)}")
            if saturate:
                plan: list[tuple[str, Any, Any, DatabaseCpu]] = [
                    ("today", core, only("today"), database_cpu),
                    ("card list", core, only("card list"), database_cpu),
                    ("mixed", core, make_user, database_cpu),
                ]
                if hello is not None:
                    plan.insert(1, ("hello", hello, hello_user, no_database))
                for number in range(rounds):
                    turn = number % len(plan)
                    order = plan[turn:] + plan[:turn]
                    log(
                        f"  round {number + 1}/{rounds}, saturated ({users} users, no think "
                        f"time, {round_warmup:g} s warm-up + {round_seconds:g} s each): "
                        + ", ".join(name for name, *_ in order)
                    )
                    done: dict[str, Any] = {}
                    for name, server, factory, cpu in order:
                        found = run_phase(
                            server,
                            factory,
                            users,
                            Phase(name, 0.0),
                            round_seconds,
                            round_warmup,
                            cpu,
                        )
                        done[name] = found
                        log(f"    {name}: {_one_line(found)}")
                    done["ratios"] = _ratios(done)
                    results["rounds"].append(done)
            if demand:
                log(
                    f"  each kind of request alone: {DEMAND_USERS} users, no think time, "
                    f"1 s warm-up + {demand:g} s each ..."
                )
                results["demand"] = measure_demand(core, make_user, demand, database_cpu)
            results["memory"] = {
                "core_workers_rss_mb": workers_rss_mb(core.process.pid),
                "hello_workers_rss_mb": workers_rss_mb(hello.process.pid) if hello else None,
            }
            results["server_log"] = server_errors(core.log_path)
    finally:
        database_cpu.close()
        forget_accounts(url, accounts)
    results["machine"]["load_after"] = os.getloadavg()
    results["saturated"] = saturated_summary(results["rounds"])
    if results["rounds"]:
        results["phases"]["saturated"] = results["rounds"][-1]["mixed"]
        if "hello" in results["rounds"][-1]:
            results["phases"]["hello"] = results["rounds"][-1]["hello"]
        median_ratio = results["saturated"].get("ratio_mixed_to_hello")
        if median_ratio is not None:
            results["ratio_to_ceiling"] = median_ratio
    results["aims"] = aims(results)
    return results


def _ratios(round_: dict[str, Any]) -> dict[str, float | None]:
    """Each core phase's throughput over the same round's ``hello``."""
    if "hello" not in round_:
        return {}
    ceiling = round_["hello"]["total"]["per_second"]
    return {
        name: round(phase["total"]["per_second"] / ceiling, 4) if ceiling else None
        for name, phase in round_.items()
        if name != "hello"
    }


def errors_of(phase: dict[str, Any]) -> int:
    """Everything that went wrong in a phase: 5xx, lost connections, unexpected 4xx and the
    simulated users' own failures (412s are expected conflicts, not errors)."""
    total = phase["total"]
    return (
        total["server_errors_5xx"]
        + total["connection_errors"]
        + sum(total["client_errors_4xx"].values())
        + sum(phase.get("client_errors", {}).values())
    )


def saturated_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The saturated rounds in a few figures: each phase's req/s, p50 and p95 per round and
    their medians, the ratios to ``hello`` per round and their medians, and the errors."""
    if not rounds:
        return {}
    found: dict[str, Any] = {"rounds": len(rounds)}
    names = [name for name in rounds[0] if name != "ratios"]
    for name in names:
        rates = [one[name]["total"]["per_second"] for one in rounds if name in one]
        p50 = [one[name]["total"].get("p50_ms") for one in rounds if name in one]
        p95 = [one[name]["total"].get("p95_ms") for one in rounds if name in one]
        capacity = [one[name]["cpu"].get("capacity_per_second") for one in rounds if name in one]
        found[name] = {
            "per_second": rates,
            "per_second_median": round(statistics.median(rates), 1),
            # by CPU cost: what the server (and its database) would serve with every CPU,
            # much less sensitive than the wall clock to other work on the machine
            "capacity_per_second": capacity,
            "capacity_per_second_median": _median(capacity),
            "p50_ms": p50,
            "p50_ms_median": _median(p50),
            "p95_ms": p95,
            "p95_ms_median": _median(p95),
            "errors": sum(errors_of(one[name]) for one in rounds if name in one),
        }
    for name in names:
        if name == "hello":
            continue
        ratios = [one["ratios"].get(name) for one in rounds if one.get("ratios")]
        ratios = [value for value in ratios if value is not None]
        if ratios:
            found[f"ratio_{name.replace(' ', '_')}_to_hello"] = round(statistics.median(ratios), 4)
            found[name]["ratios_to_hello"] = ratios
        by_cpu = [
            one[name]["cpu"]["capacity_per_second"] / one["hello"]["cpu"]["capacity_per_second"]
            for one in rounds
            if name in one
            and "hello" in one
            and one[name]["cpu"].get("capacity_per_second")
            and one["hello"]["cpu"].get("capacity_per_second")
        ]
        if by_cpu:
            found[f"cpu_ratio_{name.replace(' ', '_')}_to_hello"] = round(
                statistics.median(by_cpu), 4
            )
    spread = _spread(found.get("hello", {}).get("per_second") or [])
    if spread is not None:
        found["hello_spread"] = spread
    return found


def _spread(rates: list[float]) -> float | None:
    """How far apart the round's req/s are (highest over lowest, less one): for hello, how
    much the machine's speed moved during the run. A round's ratio compares its own phases,
    each some 20 s apart, so it can be off by about as much."""
    if len(rates) < 2 or min(rates) <= 0:
        return None
    return round(max(rates) / min(rates) - 1, 3)


def _median(values: list[Any]) -> float | None:
    known = [value for value in values if value is not None]
    return round(statistics.median(known), 1) if known else None


def aims(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's aims, each with the figure measured and whether it is met."""
    found: list[dict[str, Any]] = []
    saturated = results.get("saturated") or {}
    for name in ("today", "card list"):
        ratio = saturated.get(f"ratio_{name.replace(' ', '_')}_to_hello")
        if ratio is not None:
            found.append(
                {
                    "aim": f"{name} saturated >= {AIM_SHARE_OF_HELLO:.0%} of hello's req/s "
                    "(median of the rounds)",
                    "value": f"{ratio:.1%}",
                    "met": ratio >= AIM_SHARE_OF_HELLO,
                }
            )
    mixed = saturated.get("mixed")
    before = results["settings"].get("before_mixed_per_second")
    if mixed:
        rate = mixed["per_second_median"]
        if before:
            found.append(
                {
                    "aim": f"mixed saturated >= {AIM_MIXED_FACTOR:g}x before ({before:g} req/s)",
                    "value": f"{rate:g} req/s = {rate / before:.2f}x",
                    "met": rate >= AIM_MIXED_FACTOR * before,
                }
            )
        found.append(
            {
                "aim": "mixed saturated: 0 errors",
                "value": str(mixed["errors"]),
                "met": mixed["errors"] == 0,
            }
        )
    paced = results["phases"].get("paced")
    if paced:
        p95 = paced["total"].get("p95_ms")
        found.append(
            {
                "aim": f"paced ({results['settings']['users']} users, one action every "
                f"{results['settings']['think_s']:g} s each): p95 <= {AIM_P95_MS:g} ms",
                "value": f"{p95} ms",
                "met": p95 is not None and p95 <= AIM_P95_MS,
            }
        )
        errors = errors_of(paced)
        found.append({"aim": "paced: 0 errors", "value": str(errors), "met": errors == 0})
    return found


def _code_version() -> str | None:
    """The commit measured, ``+changes`` when the working tree differs from it: that of the
    ``cardcrm`` package this process imports, which the servers it starts import too (another
    checkout's, first in ``PYTHONPATH``, for a run of older code: ``--name before``)."""
    checkout = Path(cardcrm.__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=checkout,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return None
    return f"{head}{'+changes' if changed else ''}" if head else None


def _one_line(phase: dict[str, Any]) -> str:
    total = phase["total"]
    return (
        f"{total['count']:,} requests, {total['per_second']}/s, p50 {total.get('p50_ms')} ms, "
        f"p95 {total.get('p95_ms')} ms, p99 {total.get('p99_ms')} ms, "
        f"5xx {total['server_errors_5xx']}, 412 {total['conflicts_412']}, "
        f"other 4xx {total['client_errors_4xx'] or 0}, lost {total['connection_errors']}"
    )


# --- printing ---------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    settings, machine = results["settings"], results["machine"]
    data = results.get("data") or {}
    lines = [
        f"Load test of core on {results['database']} (code {results.get('code')})",
        f"data: {data.get('cards', '?'):,} cards, {data.get('tasks', '?'):,} tasks (at generation)"
        if data
        else "data: (no generation marker)",
        f"gunicorn: {settings['workers']} workers x {settings['threads']} threads (gthread); "
        f"{settings['users']} users ({settings['distinct_users']} distinct, "
        f"{settings['own_cards_only_users']} on their own cards only); "
        f"{settings['warmup_s']:g} s warm-up, {settings['duration_s']:g} s recorded",
        f"machine: {machine['cpus']} CPUs, load average {_load(machine['load_before'])} before, "
        f"{_load(machine.get('load_after'))} after; the client runs on the same CPUs",
    ]
    for name, phase in results["phases"].items():
        if results.get("rounds") and name in ("saturated", "hello"):
            continue  # the last round's, shown with the rounds below
        think = phase["think_seconds"]
        lines += [
            "",
            f"{name} ({'think ' + format(think, 'g') + ' s' if think else 'no think time'}):",
            f"  {'request':<22}{'count':>7}{'req/s':>8}{'p50':>8}{'p95':>8}{'p99':>8}"
            f"{'max':>8}{'412':>6}{'4xx':>6}{'5xx':>5}{'lost':>5}",
        ]
        rows = [*phase["requests"].items(), ("total", phase["total"])]
        for kind, found in rows:
            other = sum(found["client_errors_4xx"].values())
            lines.append(
                f"  {kind:<22}{found['count']:>7,}{found['per_second']:>8.1f}"
                f"{_ms(found.get('p50_ms'))}{_ms(found.get('p95_ms'))}{_ms(found.get('p99_ms'))}"
                f"{_ms(found.get('max_ms'))}{found['conflicts_412']:>6}{other:>6}"
                f"{found['server_errors_5xx']:>5}{found['connection_errors']:>5}"
            )
        if phase["total"]["client_errors_4xx"]:
            lines.append(f"  other 4xx by code: {phase['total']['client_errors_4xx']}")
        cpu = phase["cpu"]
        lines.append(
            f"  CPU seconds over the window: client {cpu['client_s']}, gunicorn {cpu['server_s']}"
            + (
                f", PostgreSQL backends {cpu['database_s']}"
                if cpu["database_s"] is not None
                else ""
            )
            + f", other {cpu['other_s']}; machine busy {cpu['machine_busy_s']} of "
            f"{cpu['machine_capacity_s']}"
        )
        if "server_ms_per_request" in cpu:
            per = f"  CPU ms per request: gunicorn {cpu['server_ms_per_request']}"
            if "database_ms_per_request" in cpu:
                per += f", PostgreSQL {cpu['database_ms_per_request']}"
            lines.append(per + f", client {cpu['client_ms_per_request']}")
        if "capacity_per_second" in cpu:
            lines.append(
                f"  capacity if the server (and database) had the {machine['cpus']} CPUs to "
                f"itself: {cpu['capacity_per_second']:,} req/s"
            )
        if phase["client_errors"]:
            lines.append(f"  simulated users' own errors: {phase['client_errors']}")
        for answer in phase.get("unexpected_answers", [])[:3]:
            lines.append(
                f"  e.g. {answer['kind']}: {answer['request']} -> {answer['status']} "
                f"{answer['body'][:150]}"
            )
    if results.get("demand"):
        lines += [
            "",
            f"each kind alone ({DEMAND_USERS} users, no think time): CPU ms per request",
            f"  {'request':<22}{'count':>7}{'gunicorn':>10}{'database':>10}{'p50':>8}{'p95':>8}"
            "  also sent",
        ]
        for kind, found in results["demand"].items():
            lines.append(
                f"  {kind:<22}{found['count']:>7,}{_ms(found['server_cpu_ms'], 10)}"
                f"{_ms(found['database_cpu_ms'], 10)}{_ms(found['p50_ms'])}{_ms(found['p95_ms'])}"
                f"  {', '.join(f'{n} {other}' for other, n in found['other_requests'].items())}"
            )
    log = results.get("server_log", {})
    lines += ["", f"tracebacks in core's log: {log.get('tracebacks', 0)}"]
    lines += [f"  {block.splitlines()[-1]}" for block in log.get("first", [])]
    lines += ["", *rounds_table(results)]
    memory = results.get("memory") or {}
    if memory.get("core_workers_rss_mb"):
        lines.append(
            f"worker memory at the end (RSS, MB): core {memory['core_workers_rss_mb']}"
            + (
                f", hello {memory['hello_workers_rss_mb']}"
                if memory.get("hello_workers_rss_mb")
                else ""
            )
        )
    lines += ["", *aims_lines(results.get("aims", []))]
    return "\n".join(lines)


def rounds_table(results: dict[str, Any]) -> list[str]:
    """The saturated rounds: req/s (p95 ms) of each phase per round, the ratios to the same
    round's ``hello``, and their medians."""
    rounds = results.get("rounds") or []
    if not rounds:
        return []
    names = [name for name in rounds[0] if name != "ratios"]
    lines = [
        f"saturated, {results['settings']['users']} users, no think time, "
        f"{len(rounds)} interleaved rounds: req/s (p95 ms); ratio to the round's hello",
        "  " + f"{'round':<8}" + "".join(f"{name:>22}" for name in names),
    ]
    for number, one in enumerate(rounds, 1):
        cells = []
        for name in names:
            total = one[name]["total"]
            ratio = one.get("ratios", {}).get(name)
            text = f"{total['per_second']:,.1f} ({total.get('p95_ms')})"
            if ratio is not None:
                text += f" {ratio:.1%}"
            cells.append(f"{text:>22}")
        lines.append("  " + f"{number:<8}" + "".join(cells))
    summary_ = results.get("saturated") or {}
    cells = []
    for name in names:
        found = summary_.get(name, {})
        ratio = summary_.get(f"ratio_{name.replace(' ', '_')}_to_hello")
        text = f"{found.get('per_second_median', 0):,.1f} ({found.get('p95_ms_median')})"
        if ratio is not None:
            text += f" {ratio:.1%}"
        cells.append(f"{text:>22}")
    lines.append("  " + f"{'median':<8}" + "".join(cells))
    cpu_ratios = [
        f"{name} {summary_[key]:.1%}"
        for name in names
        if (key := f"cpu_ratio_{name.replace(' ', '_')}_to_hello") in summary_
    ]
    if cpu_ratios:
        lines.append(
            "  by CPU cost (capacity with every CPU, median of the rounds' ratios to hello): "
            + ", ".join(cpu_ratios)
        )
    mixed = summary_.get("mixed")
    if mixed:
        lines.append(
            f"  mixed: p50 {mixed['p50_ms_median']} ms, p95 {mixed['p95_ms_median']} ms "
            f"(medians), errors {mixed['errors']}"
        )
    hello = summary_.get("hello", {}).get("per_second") or []
    spread = _spread(hello)  # also for results written before ``hello_spread`` was kept
    if spread is not None:
        line = (
            f"  hello alone from round to round: {min(hello):,.0f} to {max(hello):,.0f} req/s "
            f"({spread:.0%} apart)"
        )
        if spread > UNSTEADY:
            line += (
                ": the machine's speed changed during the run, and a round's ratios may be off "
                "by as much (run again on a quieter machine)"
            )
        lines.append(line)
    return lines


def aims_lines(found: list[dict[str, Any]]) -> list[str]:
    return [
        f"aim: {aim['aim']}: {'PASS' if aim['met'] else 'FAIL'} ({aim['value']})" for aim in found
    ]


def _ms(value: float | None, width: int = 8) -> str:
    return f"{'' if value is None else format(value, '.1f'):>{width}}"


def _load(values: Any) -> str:
    return "?" if not values else " ".join(f"{value:.2f}" for value in values)


# --- command line -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m bench load``."""
    parser.add_argument("--url", default=DEFAULT_URL, help="the database (reused if it has cards)")
    parser.add_argument("--users", type=int, default=50, help="simulated users")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="recorded seconds of the paced phase"
    )
    parser.add_argument("--warmup", type=float, default=5.0, help="unrecorded seconds first")
    parser.add_argument(
        "--think",
        type=float,
        default=PACED_THINK,
        help="paced: mean seconds between the starts of a user's actions (0: no paced phase)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="saturated rounds (today, card list, mix, hello)"
    )
    parser.add_argument(
        "--round-seconds", type=float, default=15.0, help="recorded seconds of each round's phase"
    )
    parser.add_argument(
        "--round-warmup", type=float, default=3.0, help="unrecorded seconds before each"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address the servers listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="core's port; the ceiling gets the next one (default: free ports)",
    )
    parser.add_argument(
        "--before-mixed",
        type=float,
        default=BEFORE_MIXED_PER_SECOND,
        help="the mix's saturated req/s before issue 18, for the 5x aim",
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: 2 x CPUs)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument(
        "--answers-mb",
        type=float,
        help="core's CARDCRM_ANSWER_CACHE_MB (default: core's own; 0: no answers kept)",
    )
    parser.add_argument("--no-saturate", action="store_true", help="skip the saturated rounds")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the bare Flask ceiling")
    parser.add_argument(
        "--demand",
        type=float,
        default=5.0,
        help="seconds of each kind of request alone, for its CPU cost (0: skip)",
    )
    parser.add_argument(
        "--regenerate", action="store_true", help="drop the database's data and generate it again"
    )
    parser.add_argument("--cards", type=int, default=LOAD_SIZES.cards, help="cards to generate")
    parser.add_argument("--tasks", type=int, default=LOAD_SIZES.tasks, help="tasks to generate")
    parser.add_argument("--generated-users", type=int, default=LOAD_SIZES.users)
    parser.add_argument("--other-cards", type=int, default=LOAD_SIZES.other_cards)
    parser.add_argument("--seed", type=int, default=LOAD_SIZES.seed)
    parser.add_argument(
        "--name",
        help="saved as load-NAME-<dialect>-...json (e.g. before: a run of older code, "
        "whose checkout is first in PYTHONPATH; docs/benchmarks.md shows it)",
    )


def main_from(args: argparse.Namespace) -> int:
    sizes = Sizes(
        cards=args.cards,
        tasks=args.tasks,
        users=args.generated_users,
        other_cards=args.other_cards,
        seed=args.seed,
    )
    prepare(args.url, sizes, regenerate=args.regenerate, log=print)
    results = run(
        args.url,
        users=args.users,
        duration=args.duration,
        warmup=args.warmup,
        think=args.think,
        workers=args.workers,
        threads=args.threads,
        saturate=not args.no_saturate,
        ceiling=not args.no_ceiling,
        demand=args.demand,
        rounds=args.rounds,
        round_seconds=args.round_seconds,
        round_warmup=args.round_warmup,
        host=args.host,
        port=args.port,
        before_mixed=args.before_mixed,
        seed=args.seed,
        answers_mb=args.answers_mb,
    )
    print()
    print(table(results))
    kind = f"load-{args.name}" if args.name else "load"
    print(f"\nresults: {report.save(kind, results)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    add_arguments(parser)
    return main_from(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
