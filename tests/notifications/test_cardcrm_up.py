"""The service as `cardcrm up` runs it: mounted under /notifications with its worker in a
thread, in one process with core, over real HTTP, mailing through a real SMTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import free_port

CARDCRM = Path(sys.executable).parent / "cardcrm"
DEMO_EMAIL = "demo@cardcrm.example"
#: ``cardcrm up`` generates the demo password; this test chooses it, as automation may.
DEMO_PASSWORD = "notifications-tests-demo-password"


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
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


@pytest.mark.slow
def test_cardcrm_up_serves_notifications_and_its_worker_mails_an_assignment(tmp_path, smtp):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(CARDCRM_SMTP_URL=smtp.url, CARDCRM_DEMO_PASSWORD=DEMO_PASSWORD, PYTHONUNBUFFERED="1")
    log = tmp_path / "up.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(CARDCRM), "up", "--port", str(port), "--data", str(tmp_path / "data")],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while call_or_none(base + "/notifications/healthz") != 200:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        _, login = call(
            base, "POST", "/api/v1/auth/token", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        )
        demo = login["token"]
        status, preferences = call(
            base, "PATCH", "/notifications/api/v1/preferences", {"email": DEMO_EMAIL}, demo
        )
        assert status == 200 and preferences["timezone"] == "Europe/Bucharest"
        status, _ = call(
            base,
            "POST",
            "/api/v1/users",
            {"email": "ana@example.com", "name": "Ana", "password": "ana-password"},
            demo,
        )
        assert status == 201
        _, ana = call(
            base,
            "POST",
            "/api/v1/auth/token",
            {"email": "ana@example.com", "password": "ana-password"},
        )
        _, products = call(base, "GET", "/api/v1/products", token=demo)
        members = f"/api/v1/products/{products['items'][0]['id']}/members"
        status, current = call(base, "GET", members, token=demo)
        if status == 200:  # per-product access: Ana must be a member to add a task
            items = [*current["items"], {"user_id": ana["user"]["id"], "own_cards_only": False}]
            assert call(base, "PUT", members, {"items": items}, demo)[0] == 200
        _, cards = call(
            base, "GET", f"/api/v1/products/{products['items'][0]['id']}/cards", token=demo
        )
        card = cards["items"][0]
        due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        task = {"text": "Check the demo", "due": due, "assignee_id": login["user"]["id"]}
        status, _ = call(base, "POST", f"/api/v1/cards/{card['id']}/tasks", task, ana["token"])
        assert status == 201

        [message] = smtp.wait_for(1, timeout=20)
        assert message["Subject"] == "Ana assigned you a task: Check the demo"
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert f"{base}/cards/{card['id']}" in body  # the UI's card page, not the mount
        _, inbox = call(base, "GET", "/notifications/api/v1/inbox", token=demo)
        assert [item["title"] for item in inbox["items"]] == [
            "Ana assigned you a task: Check the demo"
        ]
        # the demo data seeded before the worker's first start notified nobody
        assert len(smtp.messages) == 1
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert (tmp_path / "data" / "notifications.db").is_file()


def call_or_none(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return None
