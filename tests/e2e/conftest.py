"""The end-to-end harness: every service as its own process, as production runs them.

A ``Stack`` is one deployment on PostgreSQL: ``cardcrm serve core|calendar|notifications``
(gunicorn) and ``cardcrm worker calendar|notifications``, each a subprocess on a free port,
set up with the command line (``db upgrade``, ``user create``, ``token create``), next to a
real Radicale (CalDAV) and a real SMTP server (aiosmtpd). Tests talk to it over HTTP only,
except for what no endpoint shows: the sidecars' feed cursors (read with SQL), and the leases
of a killed worker's deliveries, which one fault test ends early instead of waiting them out.

Each process runs in its own process group: killing it (``kill -9`` in the fault tests, or
at the end) takes its children (gunicorn's workers) with it. Their output goes to files under
the test's folder, shown in the report of a failing test.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
import requests
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from tests.calendar_sync.conftest import CalendarApp, Radicale
from tests.notifications.conftest import Mailbox, free_port

POSTGRES_URL = os.environ.get("CARDCRM_TEST_POSTGRES_URL")
REQUIRE_ALL = bool(os.environ.get("CARDCRM_TEST_REQUIRE_ALL"))
CARDCRM = Path(sys.executable).parent / "cardcrm"
START_TIMEOUT = 40.0
ADMIN_EMAIL, ADMIN_PASSWORD = "boss@example.com", "boss-password-1"
SIDECARS = ("calendar", "notifications")


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when CI requires every test to run (``CARDCRM_TEST_REQUIRE_ALL``)."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (CARDCRM_TEST_REQUIRE_ALL is set: nothing may be skipped)")
    pytest.skip(reason)


def wait_for(
    check: Callable[[], Any],
    timeout: float = 20.0,
    what: str = "",
    explain: Callable[[], Any] | None = None,
) -> Any:
    """Poll ``check`` until it returns something true; that value. On a timeout the error
    says what ``explain()`` returns (what is still wrong)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            message = f"timed out after {timeout:.0f} s waiting for {what or check}"
            raise AssertionError(message + (f": {explain()}" if explain else ""))
        time.sleep(0.1)


# --- processes --------------------------------------------------------------------------------

#: Every process a harness started and has not reaped: killed at exit whatever happened.
_RUNNING: set[Process] = set()


class Process:
    """A command in its own process group, its output appended to ``log``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.popen: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> Process:
        assert not self.running, f"{self.name} runs already"
        with self.log.open("a") as output:
            output.write(f"--- {time.strftime('%H:%M:%S')} starting {' '.join(self.args)}\n")
            output.flush()
            self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as one
            )
        _RUNNING.add(self)
        return self

    def kill(self) -> None:
        """``kill -9`` of the whole process group, as a crash would end it; then reap it."""
        if self.popen is None:
            return
        _signal_group(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        with self.log.open("a") as output:
            output.write(f"--- {time.strftime('%H:%M:%S')} killed with SIGKILL\n")
        _RUNNING.discard(self)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL for whatever of the group is left after ``timeout``."""
        if self.popen is None:
            return
        _signal_group(self.popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        _signal_group(self.popen.pid, signal.SIGKILL)  # gunicorn workers left behind, if any
        try:
            self.popen.wait(10)
        finally:
            _RUNNING.discard(self)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_RUNNING):
        if process.popen is not None:
            _signal_group(process.popen.pid, signal.SIGKILL)


def run_cardcrm(args: list[str], env: dict[str, str]) -> str:
    """Run a ``cardcrm`` command to its end; its standard output."""
    result = subprocess.run(
        [str(CARDCRM), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


# --- HTTP -------------------------------------------------------------------------------------


class Client:
    """JSON over HTTP with one bearer token, as a client of the API would talk."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base, self.token = base.rstrip("/"), token
        self.http = requests.Session()

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        if not path.startswith(("/", "http")):
            path = "/api/v1/" + path
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = path if path.startswith("http") else self.base + path
        return self.http.request(
            method, url, json=body, headers=headers, timeout=kwargs.pop("timeout", 15), **kwargs
        )

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        response = self.request(method, path, body, **kw)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def items(self, path: str) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following ``next_cursor``."""
        found: list[dict[str, Any]] = []
        separator = "&" if "?" in path else "?"
        page = self.ok("GET", f"{path}{separator}limit=500")
        found += page["items"]
        while page.get("next_cursor"):
            page = self.ok("GET", f"{path}{separator}limit=500&cursor={page['next_cursor']}")
            found += page["items"]
        return found


def healthy(base: str) -> bool:
    try:
        response = requests.get(base + "/healthz", timeout=2)
        # The sidecars add where their feed followers are (``feed``); "ok" is what counts.
        return response.status_code == 200 and response.json().get("status") == "ok"
    except (requests.RequestException, ValueError):
        return False


# --- the servers a user has: SMTP and CalDAV ----------------------------------------------------


class SmtpServer:
    """aiosmtpd on a fixed port, which can be stopped and started again; what it received
    is in ``mailbox`` (the notifications tests' ``Mailbox``) across restarts."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}?from=cardcrm@example.com&timeout=5"
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages_to(self, address: str) -> list[Any]:
        return [message for message in list(self.mailbox.messages) if message["To"] == address]


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """A Radicale of this module (``[auth] type = none``), which tests may stop and restart."""
    server = Radicale(tmp_path_factory.mktemp("radicale")).start()
    yield server
    server.stop()


# --- PostgreSQL -------------------------------------------------------------------------------


class Databases:
    """Three fresh databases (core, calendar, notifications) on one PostgreSQL server."""

    def __init__(self, server_url: str, core_server_url: str | None = None) -> None:
        prefix = f"cardcrm_e2e_{uuid.uuid4().hex[:8]}"
        self.urls: dict[str, str] = {}
        self._made: list[tuple[str, str]] = []
        for service in ("core", *SIDECARS):
            where = core_server_url if service == "core" and core_server_url else server_url
            name = f"{prefix}_{service}"
            with _admin(where) as admin, admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            self._made.append((where, name))
            self.urls[service] = (
                make_url(where).set(database=name).render_as_string(hide_password=False)
            )

    def drop(self) -> None:
        threads = [
            threading.Thread(target=self._drop, args=made, daemon=True) for made in self._made
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    @staticmethod
    def _drop(where: str, name: str) -> None:
        try:
            with _admin(where) as admin, admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as error:  # noqa: BLE001 - a server already stopped: nothing to drop
            print(f"could not drop {name}: {error}", file=sys.stderr)


class _admin:  # noqa: N801 - used like a function
    def __init__(self, url: str) -> None:
        self.engine = create_engine(
            make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )

    def __enter__(self) -> Engine:
        return self.engine

    def __exit__(self, *exc: Any) -> None:
        self.engine.dispose()


def postgres_url() -> str:
    if not POSTGRES_URL:
        unavailable(
            "CARDCRM_TEST_POSTGRES_URL is not set: the end-to-end tests run the services on "
            "PostgreSQL, as CI does"
        )
    return POSTGRES_URL


# --- one deployment ---------------------------------------------------------------------------

#: Stacks running now: their logs go into the report of a failing test.
ACTIVE_STACKS: list[Stack] = []


class Stack:
    """Core, calendar sync and notifications with their workers, each its own process."""

    def __init__(
        self,
        folder: Path,
        databases: dict[str, str],
        smtp: SmtpServer,
        radicale: Radicale,
        core_workers: int = 2,
    ) -> None:
        self.folder = folder
        self.databases = databases
        self.smtp = smtp
        self.radicale = radicale
        self.ports = {name: free_port() for name in ("core", *SIDECARS)}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.env = {key: val for key, val in os.environ.items() if not key.startswith("CARDCRM_")}
        self.env.update(
            PYTHONUNBUFFERED="1",
            CARDCRM_DATA_DIR=str(folder / "data"),
            CARDCRM_DATABASE_URL=databases["core"],
            CARDCRM_CALENDAR_DATABASE_URL=databases["calendar"],
            CARDCRM_NOTIFICATIONS_DATABASE_URL=databases["notifications"],
            CARDCRM_SECRET_KEY="e2e-" + uuid.uuid4().hex,
            CARDCRM_CORE_URL=self.urls["core"],
            CARDCRM_PUBLIC_URL=self.urls["core"],
            CARDCRM_CALENDAR_PUBLIC_URL=self.urls["calendar"],
            CARDCRM_SMTP_URL=smtp.url,
            # Calendar apps' changes are looked for every second (60 s by default).
            CARDCRM_CALENDAR_PULL_SECONDS="1",
            # Radicale listens on loopback: the one private target the services may reach.
            CARDCRM_OUTBOUND_ALLOW=f"127.0.0.1:{radicale.port}",
        )
        self.core_workers = core_workers
        self.processes: dict[str, Process] = {}
        self.admin: Client | None = None
        self.service_tokens: dict[str, str] = {}
        self._engines: dict[str, Engine] = {}
        self._feed_seen = 0

    # --- set-up, as an administrator does it ------------------------------------------------

    def install(self) -> Stack:
        """Migrate the databases, make an admin and tokens: all with the command line."""
        if self not in ACTIVE_STACKS:
            ACTIVE_STACKS.append(self)
        run_cardcrm(["db", "upgrade"], self.env)
        self.process("core").start()  # it needs no token: it starts while they are made
        run_cardcrm(
            ["user", "create", ADMIN_EMAIL, "--name", "Boss", "--password", ADMIN_PASSWORD]
            + ["--admin", "--timezone", "Europe/Bucharest"],
            self.env,
        )
        tokens: dict[str, str] = {}

        def token(key: str, args: list[str]) -> None:
            tokens[key] = run_cardcrm(["token", "create", *args], self.env).strip()

        threads = [threading.Thread(target=token, args=("admin", [ADMIN_EMAIL]))] + [
            threading.Thread(target=token, args=(name, ["--service", name])) for name in SIDECARS
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(tokens) == {"admin", *SIDECARS}, tokens
        self.admin = Client(self.urls["core"], tokens.pop("admin"))
        self.service_tokens = tokens
        return self

    def process(self, name: str) -> Process:
        """The process ``core``, ``calendar``, ``notifications`` (servers) or
        ``calendar-worker``, ``notifications-worker``."""
        if name not in self.processes:
            service, _, worker = name.partition("-")
            env = dict(self.env)
            if service in SIDECARS:
                env["CARDCRM_SERVICE_TOKEN"] = self.service_tokens[service]
            if worker:
                args = [str(CARDCRM), "worker", service]
            else:
                workers = self.core_workers if service == "core" else 1
                args = [str(CARDCRM), "serve", service, "--port", str(self.ports[service])]
                args += ["--workers", str(workers), "--threads", "4"]
            self.processes[name] = Process(name, args, env, self.folder / f"{name}.log")
        return self.processes[name]

    def start(self, *names: str) -> Stack:
        """Start processes (all by default) and wait until each is ready."""
        names = names or ("core", *SIDECARS, "calendar-worker", "notifications-worker")
        for name in names:
            if not self.process(name).running:
                self.process(name).start()
        for name in names:
            self.wait_ready(name)
        return self

    def wait_ready(self, name: str) -> None:
        """Servers answer ``/healthz``; workers have caught up with core's feed."""
        process = self.process(name)

        def ready() -> bool:
            assert process.running, f"{name} exited with {process.popen.returncode}"
            if name in self.urls:
                return healthy(self.urls[name])
            if not healthy(self.urls["core"]):
                return False
            service = name.partition("-")[0]
            if service == "notifications" and not self.sidecar_sql(
                service, "SELECT value FROM worker_state WHERE name = 'notify_since'"
            ):
                return False  # not started yet: what happens now might count as history
            return self.cursor(service) >= self.last_event_id()

        wait_for(ready, START_TIMEOUT, f"{name} to be ready")

    def kill(self, name: str) -> None:
        """``kill -9`` of the process (all of its group)."""
        self.process(name).kill()

    def restart(self, name: str) -> None:
        self.process(name).start()
        self.wait_ready(name)

    def close(self) -> None:
        """Stop everything: SIGTERM to every group, SIGKILL to what is left after 2 s."""
        for process in self.processes.values():
            if process.popen is not None:
                _signal_group(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 2
        for process in self.processes.values():
            process.stop(timeout=max(0.1, deadline - time.monotonic()))
        for engine in self._engines.values():
            engine.dispose()
        if self in ACTIVE_STACKS:
            ACTIVE_STACKS.remove(self)

    # --- what the tests look at -------------------------------------------------------------

    def client(self, service: str, token: str | None) -> Client:
        return Client(self.urls[service], token)

    def last_event_id(self) -> int:
        """The id of core's newest event, read from the feed with a service token."""
        feed = self.client("core", self.service_tokens["notifications"])
        while True:
            page = feed.ok("GET", f"events?after={self._feed_seen}&limit=1000")
            if not page["items"]:
                return self._feed_seen
            self._feed_seen = page["last_id"]

    def cursor(self, service: str) -> int:
        """How far the sidecar's worker has handled core's feed (its committed cursor)."""
        # The follower's own row (the calendar's table may also hold a replay marker).
        name = {"calendar": "calendar_sync", "notifications": "notifications"}[service]
        rows = self.sidecar_sql(
            service, "SELECT last_id FROM feed_cursors WHERE name = :name", name=name
        )
        return rows[0][0] if rows else 0

    def sidecar_sql(self, service: str, query: str, **params: Any) -> list[Any]:
        """Run SQL on a sidecar's own database (to read state no endpoint shows); its rows."""
        if service not in self._engines:
            self._engines[service] = create_engine(self.databases[service], poolclass=NullPool)
        with self._engines[service].begin() as connection:
            result = connection.execute(text(query), params)
            return list(result) if result.returns_rows else []

    def logs(self, lines: int = 60) -> dict[str, str]:
        found = {}
        for name, process in self.processes.items():
            if process.log.exists():
                tail = process.log.read_text(errors="replace").splitlines()[-lines:]
                found[name] = "\n".join(tail)
        return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """A failing test's report shows the end of every running service's log."""
    report = yield
    if report.failed:
        for number, stack in enumerate(ACTIVE_STACKS):
            for name, text_ in stack.logs().items():
                path = stack.processes[name].log
                report.sections.append((f"stack {number}: end of {path}", text_))
            if stack.radicale.log.exists():
                tail = stack.radicale.log.read_text(errors="replace").splitlines()[-20:]
                report.sections.append((f"stack {number}: radicale.log", "\n".join(tail)))
    return report


# --- people -----------------------------------------------------------------------------------


class Person:
    """A user of a stack with a client per service (the same core token for all three)."""

    def __init__(self, stack: Stack, user: dict[str, Any], token: str) -> None:
        self.user, self.token, self.id = user, token, user["id"]
        self.core = stack.client("core", token)
        self.calendar = stack.client("calendar", token)
        self.notifications = stack.client("notifications", token)


def add_person(stack: Stack, email: str, name: str, timezone: str = "UTC") -> Person:
    """A new user made by the admin through the API; logs in with their password."""
    assert stack.admin is not None
    password = "pass-" + uuid.uuid4().hex[:12]
    body = {"email": email, "name": name, "password": password, "timezone": timezone}
    stack.admin.ok("POST", "users", body, status=201)
    login = stack.client("core", None).ok(
        "POST", "auth/token", {"email": email, "password": password}, status=201
    )
    return Person(stack, login["user"], login["token"])


def admin_person(stack: Stack) -> Person:
    assert stack.admin is not None
    return Person(stack, stack.admin.ok("GET", "me"), stack.admin.token or "")


def connect_caldav(person: Person, radicale: Radicale) -> tuple[dict[str, Any], CalendarApp]:
    """Connect the person's CalDAV account (a Radicale user of their own) and open the
    calendar as their calendar app would."""
    username = f"user-{uuid.uuid4().hex[:8]}"
    body = {"url": radicale.url, "username": username, "password": "app-password"}
    account = person.calendar.ok("POST", "caldav", body, status=201)
    return account, CalendarApp(account["calendar_url"], username)


def todo_uid(stack: Stack, task: dict[str, Any]) -> str:
    """The UID of a task's calendar entries: ``task-<id>@<host of the calendar's URL>``."""
    return f"task-{task['id']}@{urlsplit(stack.urls['calendar']).hostname}"


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


# --- the module's deployment ------------------------------------------------------------------


@contextlib.contextmanager
def deployment(
    folder: Path, smtp: SmtpServer, radicale: Radicale, core_server_url: str | None = None
) -> Iterator[Stack]:
    """A whole deployment on fresh databases of CI's PostgreSQL (core's on
    ``core_server_url`` if given), stopped and dropped afterwards."""
    databases = Databases(postgres_url(), core_server_url)
    stack = Stack(folder, databases.urls, smtp, radicale)
    try:
        stack.install().start()
        yield stack
    finally:
        stack.close()
        databases.drop()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, radicale: Radicale
) -> Iterator[Stack]:
    """A whole deployment for the test module, on its own databases of CI's PostgreSQL."""
    with deployment(tmp_path_factory.mktemp("stack"), smtp, radicale) as running:
        yield running
