"""cardcrm as a real server: ``cardcrm serve core`` and ``cardcrm up`` started as processes on a
free port, set up with the command line and used over real HTTP."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CARDCRM = Path(sys.executable).parent / "cardcrm"
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(settings, PYTHONUNBUFFERED="1")
    return env


def run_cardcrm(command: str, env: dict[str, str]) -> str:
    """Run ``cardcrm COMMAND`` (written as on a shell) as a process; its standard output."""
    args = [str(CARDCRM), *shlex.split(command)]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result.stdout


class Http:
    """A tiny JSON client over urllib, as another service would talk to cardcrm."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base, self.token = base.rstrip("/"), token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        token: str | None = None,
    ) -> tuple[int, str, Any]:
        """Send a request; answers (status, content type, JSON body)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token or self.token:
            request.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers.get_content_type(), _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get_content_type(), _json(error.read())

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        code, _, answer = self.request(method, path, body)
        assert code == status, (method, path, code, answer)
        return answer


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw else None


def wait_until_healthy(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if json.loads(response.read()) == {"status": "ok"}:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not answer /healthz within {START_TIMEOUT} s:\n{log.read_text()}")


@contextmanager
def server(args: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[str]:
    """Start ``cardcrm ARGS``, wait for /healthz and yield its base URL; stop it afterwards."""
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(CARDCRM), *args], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- cardcrm serve core ---------------------------------------------------------------------------


@pytest.fixture
def core_server(database_url: str, tmp_path: Path) -> Iterator[tuple[Http, Path]]:
    """``cardcrm serve core`` set up as an admin would: migrate, create an admin, make a token.

    Runs on SQLite and, with CARDCRM_TEST_POSTGRES_URL, on PostgreSQL (CARDCRM_DATABASE_URL).
    """
    data = tmp_path / "data"
    env = environment(CARDCRM_DATA_DIR=str(data), CARDCRM_DATABASE_URL=database_url)
    run_cardcrm("db upgrade", env)
    run_cardcrm(
        "user create boss@example.com --name Boss --password s3cret-pass --admin"
        " --timezone Europe/Bucharest",
        env,
    )
    token = run_cardcrm("token create boss@example.com", env).strip()
    port = free_port()
    log = tmp_path / "serve.log"
    args = ["serve", "core", "--port", str(port), "--workers", "1"]
    with server(args, env, log, port) as base:
        yield Http(base, token), log


def test_a_served_core_answers_a_whole_working_session_over_http(core_server):
    api, log = core_server

    me = api.ok("GET", "/api/v1/me")
    assert me["email"] == "boss@example.com" and me["is_admin"] is True

    templates = {t["key"] for t in api.ok("GET", "/api/v1/templates")["items"]}
    assert {"sales", "invoices", "recruiting", "projects"} <= templates

    product = api.ok("POST", "/api/v1/products", {"name": "Sales", "template": "sales"}, status=201)
    assert product["template"] == "sales"
    later = api.ok(
        "POST", f"/api/v1/products/{product['id']}/cards", {"title": "Globex"}, status=201
    )
    sooner = api.ok(
        "POST",
        f"/api/v1/products/{product['id']}/cards",
        {"title": "ACME", "fields": {"value": "12000"}},
        status=201,
    )
    idle = api.ok(
        "POST", f"/api/v1/products/{product['id']}/cards", {"title": "Initech"}, status=201
    )
    api.ok(
        "POST",
        f"/api/v1/cards/{later['id']}/tasks",
        {"text": "Call", "due": "2026-12-03T10:00:00+02:00"},
        status=201,
    )
    task = api.ok(
        "POST",
        f"/api/v1/cards/{sooner['id']}/tasks",
        {"text": "Send the offer", "due": "2026-12-01T09:30:00+02:00", "type": "email"},
        status=201,
    )
    assert task["due"] == "2026-12-01T07:30:00Z"
    assert task["assignee_id"] == me["id"]

    cards = api.ok("GET", f"/api/v1/products/{product['id']}/cards")
    assert [card["id"] for card in cards["items"]] == [sooner["id"], later["id"], idle["id"]]
    assert cards["items"][0]["next_task_due"] == "2026-12-01T07:30:00Z"
    assert cards["items"][0]["fields"] == {"value": "12000.00"}
    assert cards["next_cursor"] is None

    # gunicorn's access log names each request.
    deadline = time.monotonic() + 5
    while "/api/v1/products/" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"/api/v1/products/{product['id']}/cards" in log.read_text()


def test_stopping_core_answers_the_feeds_long_polls_at_once_and_exits(database_url, tmp_path):
    """A follower long-polling the feed gets its whole (empty) page when core stops, not a cut
    connection, and core exits promptly rather than after the longest wait."""
    env = environment(CARDCRM_DATA_DIR=str(tmp_path / "data"), CARDCRM_DATABASE_URL=database_url)
    run_cardcrm("db upgrade", env)
    run_cardcrm("user create boss@example.com --name Boss --password s3cret-pass --admin", env)
    token = run_cardcrm("token create boss@example.com", env).strip()
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(CARDCRM), "serve", "core", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process, log)
        last = Http(base, token).ok("GET", "/api/v1/events")["last_id"]
        request = urllib.request.Request(
            f"{base}/api/v1/events?after={last}&wait=30",
            headers={"Authorization": f"Bearer {token}"},
        )
        answer: dict[str, Any] = {}

        def follow() -> None:
            try:
                with urllib.request.urlopen(request, timeout=40) as response:
                    answer.update(status=response.status, body=json.loads(response.read()))
            except Exception as error:  # a cut connection is what this test is about
                answer["error"] = repr(error)

        follower = threading.Thread(target=follow)
        follower.start()
        time.sleep(1.5)  # the long-poll is waiting in core
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        follower.join(10)
        assert answer["status"] == 200, log.read_text()
        assert (answer["body"]["items"], answer["body"]["last_id"]) == ([], last)
        assert time.monotonic() - stopped < 5
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_followers_long_polling_core_never_hold_all_its_threads(database_url, tmp_path):
    """Two followers wait on the feed of a core process with two threads: only one of them may
    hold a thread for the whole wait, so a person's request is answered at once, not after the
    followers' 30 s, and both followers still get the next event."""
    env = environment(CARDCRM_DATA_DIR=str(tmp_path / "data"), CARDCRM_DATABASE_URL=database_url)
    run_cardcrm("db upgrade", env)
    run_cardcrm("user create boss@example.com --name Boss --password s3cret-pass --admin", env)
    token = run_cardcrm("token create boss@example.com", env).strip()
    port = free_port()
    args = ["serve", "core", "--port", str(port), "--workers", "1", "--threads", "2"]
    with server(args, env, tmp_path / "serve.log", port) as base:
        api = Http(base, token)
        last = api.ok("GET", "/api/v1/events")["last_id"]
        pages: dict[int, list[dict[str, Any]]] = {}

        def follow(number: int) -> None:
            """Long-poll as the sidecars' workers do: ask again until something comes."""
            request = urllib.request.Request(
                f"{base}/api/v1/events?after={last}&wait=30",
                headers={"Authorization": f"Bearer {token}"},
            )
            polls = []
            while not (polls and polls[-1]["items"]):
                with urllib.request.urlopen(request, timeout=40) as response:
                    polls.append(json.loads(response.read()))
            pages[number] = polls

        followers = [threading.Thread(target=follow, args=(number,)) for number in (1, 2)]
        for follower in followers:
            follower.start()
        time.sleep(1.5)  # both followers are long-polling
        assert api.ok("GET", "/api/v1/me")["email"] == "boss@example.com"  # within 10 s
        assert all(follower.is_alive() for follower in followers)
        api.ok("POST", "/api/v1/products", {"name": "Sales", "template": "sales"}, status=201)
        for follower in followers:
            follower.join(15)
        assert sorted(pages) == [1, 2]
        for polls in pages.values():
            assert polls[-1]["items"][0]["type"] == "product.created"
        # The one over the limit asked again and again (each answer empty, after a short wait).
        assert max(len(polls) for polls in pages.values()) > 1


def test_a_served_core_answers_bad_input_with_problem_json(core_server):
    api, _ = core_server
    product = api.ok(
        "POST", "/api/v1/products", {"name": "Projects", "template": "projects"}, status=201
    )

    status, content_type, problem = api.request("GET", "/api/v1/me", token="ccrm_wrong")
    assert (status, content_type) == (401, "application/problem+json")
    assert problem["status"] == 401 and problem["title"] and problem["detail"]

    status, content_type, problem = Http(api.base).request("GET", "/api/v1/products")
    assert (status, content_type) == (401, "application/problem+json")

    status, content_type, problem = api.request(
        "POST", f"/api/v1/products/{product['id']}/cards", raw=b'{"title": "Broken'
    )
    assert (status, content_type) == (400, "application/problem+json")
    assert problem["status"] == 400 and "JSON" in problem["detail"]

    status, content_type, problem = api.request(
        "POST", f"/api/v1/products/{product['id']}/cards", {"title": "X", "colour": "red"}
    )
    assert (status, content_type) == (422, "application/problem+json")
    assert "colour" in problem["errors"]


# --- cardcrm up -----------------------------------------------------------------------------------


def test_cardcrm_up_starts_with_a_demo_login_and_a_product_per_built_in_template(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    log = tmp_path / "up.log"
    args = ["up", "--port", str(port), "--data", str(data)]

    with server(args, environment(), log, port) as base:
        printed = log.read_text()
        assert f"http://127.0.0.1:{port}/" in printed
        login = re.search(r"Log in as (\S+) with the password (\S+)", printed)
        assert login, printed
        email, password = login.groups()

        api = Http(base)
        answer = api.ok(
            "POST", "/api/v1/auth/token", {"email": email, "password": password}, status=201
        )
        assert answer["user"]["email"] == email
        api.token = answer["token"]

        products = api.ok("GET", "/api/v1/products")["items"]
        assert sorted(product["template"] for product in products) == [
            "invoices",
            "projects",
            "recruiting",
            "sales",
        ]
        for product in products:
            assert api.ok("GET", f"/api/v1/products/{product['id']}/cards")["items"], product[
                "name"
            ]
        status, _, _ = api.request(
            "POST", "/api/v1/auth/token", {"email": email, "password": "wrong-password"}
        )
        assert status == 401

    assert (data / "core.db").is_file()


def test_the_demo_password_is_made_at_first_start_printed_once_and_kept_only_as_a_hash(tmp_path):
    data = tmp_path / "data"
    args = ["up", "--data", str(data)]
    first_port, second_port = free_port(), free_port()
    with server([*args, "--port", str(first_port)], environment(), tmp_path / "1.log", first_port):
        printed = (tmp_path / "1.log").read_text()
    email, password = re.search(r"Log in as (\S+) with the password (\S+)", printed).groups()
    assert len(password) >= 16
    assert password != "demo-password"

    with server(
        [*args, "--port", str(second_port)], environment(), tmp_path / "2.log", second_port
    ) as base:
        again = (tmp_path / "2.log").read_text()
        api = Http(base)
        api.ok("POST", "/api/v1/auth/token", {"email": email, "password": password}, status=201)
        published = {"email": email, "password": "demo-password"}
        assert api.request("POST", "/api/v1/auth/token", published)[0] == 401
    assert password not in again and "with the password" not in again
    assert "printed at the first start" in again
    for path in data.iterdir():
        assert password.encode() not in path.read_bytes(), path


def test_automation_may_choose_the_demo_password_which_is_then_not_printed(tmp_path):
    port = free_port()
    chosen = "automation-" + os.urandom(8).hex()
    env = environment(CARDCRM_DEMO_PASSWORD=chosen)
    args = ["up", "--port", str(port), "--data", str(tmp_path / "data")]
    with server(args, env, tmp_path / "up.log", port) as base:
        body = {"email": "demo@cardcrm.example", "password": chosen}
        Http(base).ok("POST", "/api/v1/auth/token", body, status=201)
    printed = (tmp_path / "up.log").read_text()
    assert chosen not in printed and "CARDCRM_DEMO_PASSWORD" in printed


def test_a_published_or_short_demo_password_stops_cardcrm_up(tmp_path):
    for chosen in ("demo-password", "short"):
        env = environment(CARDCRM_DEMO_PASSWORD=chosen)
        result = subprocess.run(
            [str(CARDCRM), "up", "--port", str(free_port()), "--data", str(tmp_path / "data")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result.stdout
        assert "CARDCRM_DEMO_PASSWORD must be at least 12 characters" in result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "data").exists()


def test_cardcrm_up_on_a_busy_port_stops_before_printing_or_touching_the_data_folder(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(CARDCRM), "up", "--port", str(port), "--data", str(tmp_path / "data")],
            env=environment(CARDCRM_DEMO_PASSWORD="busy-port-demo-password"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr
    assert "running at" not in result.stdout
    assert not (tmp_path / "data").exists()


def test_make_run_passes_port_and_host_to_cardcrm_up():
    root = Path(__file__).resolve().parents[1]
    # Run by `make test`, this test is inside a make: its variables must not reach this one.
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}

    def planned(*variables: str) -> list[str]:
        command = ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", "run"]
        answer = subprocess.run(
            [*command, *variables], cwd=root, env=env, capture_output=True, text=True, timeout=30
        )
        return [line.strip() for line in answer.stdout.splitlines() if "cardcrm up" in line]

    assert planned("PORT=8101", "HOST=127.0.0.2") == [
        ".venv/bin/cardcrm up --host 127.0.0.2 --port 8101"
    ]
    assert planned() == [".venv/bin/cardcrm up"]


def test_cardcrm_up_keeps_its_data_folder_and_databases_to_their_owner(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    args = ["up", "--port", str(port), "--data", str(data)]
    with server(args, environment(), tmp_path / "up.log", port) as base:
        Http(base).ok("GET", "/calendar/healthz")
        Http(base).ok("GET", "/notifications/healthz")
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data.iterdir()}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("core.db", "calendar.db", "notifications.db"):
        for suffix in ("", "-wal", "-shm"):
            assert modes[name + suffix] == 0o600, name + suffix
    assert {"secret_key", "service_token"} <= set(modes)
    assert set(modes.values()) == {0o600}, modes
