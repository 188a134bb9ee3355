"""The sync worker for real: as ``cardcrm worker calendar`` (killed and started again), as the
thread ``cardcrm up`` runs, and the whole of ``cardcrm up`` with the calendar mounted."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cardcrm.calendar_sync import worker
from icalendar import Calendar

from tests.cardcrm_up import cardcrm_up

from .conftest import CORE_PUBLIC_URL, PUBLIC_URL, calendar_app_of

CARDCRM = Path(sys.executable).parent / "cardcrm"


def uid(task: dict) -> str:
    return f"task-{task['id']}@crm.example.com"


def wait_for(
    check: Callable[[], Any], timeout: float = 30.0, what: str = "", log: Path | None = None
) -> float:
    """Poll ``check`` until it is true; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    output = log.read_text() if log is not None and log.exists() else ""
    pytest.fail(f"timed out waiting for {what or check}\n{output}")


def worker_environment(settings: dict[str, Any], data: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(
        PYTHONUNBUFFERED="1",
        CARDCRM_DATA_DIR=str(data),
        CARDCRM_CALENDAR_DATABASE_URL=settings["DATABASE_URL"],
        CARDCRM_CORE_URL=settings["CORE_URL"],
        CARDCRM_SERVICE_TOKEN=settings["SERVICE_TOKEN"],
        CARDCRM_SECRET_KEY=settings["SECRET_KEY"],
        CARDCRM_PUBLIC_URL=CORE_PUBLIC_URL,
        CARDCRM_CALENDAR_PUBLIC_URL=PUBLIC_URL,
        CARDCRM_OUTBOUND_ALLOW=settings["OUTBOUND_ALLOW"],
    )
    return env


@pytest.mark.slow
def test_the_worker_process_pushes_at_once_and_resumes_after_being_killed(
    calendar, calendar_settings, member, sales, radicale, tmp_path
):
    card = member.card(sales, "ACME: 40 chairs")
    first = member.task(card, "2026-12-01T09:30:00+01:00", "Before the worker")
    account = calendar.connect(member, radicale)
    app = calendar_app_of(account)
    env = worker_environment(calendar_settings, tmp_path / "data")
    log = tmp_path / "worker.log"

    def start() -> subprocess.Popen:
        with log.open("a") as output:
            return subprocess.Popen(
                [str(CARDCRM), "worker", "calendar"], env=env, stdout=output, stderr=output
            )

    process = start()
    try:
        wait_for(lambda: uid(first) in app.by_uid(), what="the first push", log=log)
        # A change in core reaches the calendar within a couple of seconds.
        second = member.task(card, "2026-12-02T09:30:00+01:00", "While it runs")
        delay = wait_for(lambda: uid(second) in app.by_uid(), what="a new task", log=log)
        assert delay < 5, delay

        process.send_signal(signal.SIGKILL)
        process.wait(10)
        member.ok("PATCH", f"tasks/{first['id']}", {"text": "Edited while it was dead"})
        third = member.task(card, "2026-12-03T09:30:00+01:00", "While it was dead")

        process = start()
        wait_for(lambda: uid(third) in app.by_uid(), what="the push after the restart", log=log)
        wait_for(
            lambda: str(app.by_uid()[uid(first)]["SUMMARY"]).startswith("Edited while"),
            what="the edit made while the worker was dead",
            log=log,
        )
        assert set(app.by_uid()) == {uid(first), uid(second), uid(third)}  # once each

        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert calendar.account(member, account["id"])["pending"] == 0, log.read_text()


def test_the_worker_thread_brings_a_task_to_the_calendar_within_two_seconds(
    calendar, calendar_settings, member, sales, radicale
):
    card = member.card(sales, "ACME: 40 chairs")
    account = calendar.connect(member, radicale)
    app = calendar_app_of(account)
    stop = threading.Event()
    settings = {**calendar_settings, "FOLLOW_WAIT": 1}
    thread = threading.Thread(target=worker.run, args=(settings, stop), daemon=True)
    thread.start()
    try:
        wait_for(lambda: calendar.account(member, account["id"])["last_sync_at"], what="a round")
        task = member.task(card, "2026-12-01T09:30:00+01:00", "Fast")
        delay = wait_for(lambda: uid(task) in app.by_uid(), timeout=10, what="the push")
        member.ok("POST", f"tasks/{task['id']}/close", {"outcome": "cancelled"})
        gone = wait_for(lambda: uid(task) not in app.by_uid(), timeout=10, what="the delete")
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert delay < 2.0 and gone < 2.0, (delay, gone)


@pytest.mark.slow
def test_cardcrm_up_serves_the_calendar_and_runs_its_worker(tmp_path):
    with cardcrm_up(tmp_path, demo_password=None, ready_path="/calendar/healthz") as base:
        email, password = re.search(
            r"Log in as (\S+) with the password (\S+)", (tmp_path / "up.log").read_text()
        ).groups()
        token = _post(f"{base}/api/v1/auth/token", {"email": email, "password": password})["token"]
        feed = _post(f"{base}/calendar/api/v1/feed", {}, token)
        assert feed["url"].startswith(f"{base}/calendar/feeds/")

        def events() -> list:
            body = _get(feed["url"])
            return Calendar.from_ical(body).walk("VEVENT") if body else []

        wait_for(events, 30, "the demo tasks in the feed")
        spec = json.loads(_get(f"{base}/calendar/api/v1/openapi.json"))
        assert "/api/v1/caldav" in spec["paths"]


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None


def _post(url: str, body: Any, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
