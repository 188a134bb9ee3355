"""``cardcrm up`` started as a user starts it, for the tests that need the whole site in one
process (the web UI's browser stories, the CalDAV server and notifications as ``up`` mounts
them): one place that starts it, waits until it answers and stops it, and the plain HTTP
calls those tests make.

Starting it migrates three databases and seeds the demo data (seconds on a busy machine), so
the tests that do not need a fresh site share one per module (a module-scoped fixture) and
keep out of each other's way with users and cards of their own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

CARDCRM = Path(sys.executable).parent / "cardcrm"
DEMO_EMAIL = "demo@cardcrm.example"
#: How long ``cardcrm up`` may take to answer (migrations and demo data on a busy machine).
START_TIMEOUT = 60.0


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    """``(status, parsed JSON body)`` of a JSON request with an optional bearer token."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def status_of(url: str) -> int | None:
    """The status of a GET of ``url``, ``None`` while nothing answers there."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll ``check`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@contextlib.contextmanager
def cardcrm_up(
    folder: Path, *, demo_password: str | None, ready_path: str = "/healthz", **env: str
) -> Iterator[str]:
    """``cardcrm up`` on a free port with its data in ``folder``, its demo user's password
    chosen (as automation may; ``None``: the one it makes and prints in ``up.log``) and
    ``env`` added (``CARDCRM_SMTP_URL=...``); yields the base URL once ``ready_path`` answers
    200 and stops the server afterwards. None of the test run's own ``CARDCRM_*`` settings
    reach it: it runs on its defaults, as a new user's."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {key: val for key, val in os.environ.items() if not key.startswith("CARDCRM_")}
    environment.update(PYTHONUNBUFFERED="1", **env)
    if demo_password is not None:
        environment["CARDCRM_DEMO_PASSWORD"] = demo_password
    log = folder / "up.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(CARDCRM), "up", "--port", str(port), "--data", str(folder / "data")],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn's worker stops with it
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while status_of(base + ready_path) != 200:
            if process.poll() is not None:
                pytest.fail(f"cardcrm up exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"cardcrm up did not answer {ready_path} in time:\n{log.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        # Killed, not stopped gracefully: a graceful stop took five to twenty seconds of each
        # module's teardown, and what the tests look at is in the data folder already.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def cardcrm_serve(service: str, folder: Path, **env: str) -> Iterator[str]:
    """``cardcrm serve SERVICE`` (one gunicorn worker, two threads) on a free port, as another
    process beside the test's own app: its own caches, the same database (``env``, e.g.
    ``CARDCRM_DATABASE_URL``). Its log is ``folder/serve.log``; yields its base URL once
    ``/healthz`` answers, and stops it afterwards."""
    port = free_port()
    environment = {key: val for key, val in os.environ.items() if not key.startswith("CARDCRM_")}
    environment.update(CARDCRM_DATA_DIR=str(folder / "data"), **env)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "serve.log"
    command = [str(CARDCRM), "serve", service, "--workers", "1", "--threads", "2"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=environment, stdout=output, stderr=output
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while status_of(base + "/healthz") != 200:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"cardcrm serve {service} did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(30)
