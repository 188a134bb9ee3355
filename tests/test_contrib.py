"""The deployment files in contrib/ against the code they deploy, and cardcrm served the way
they serve it: gunicorn's configuration files, the systemd units, the nginx site and the
docker-compose file; the sidecars behind a reverse proxy under their path prefix; access logs
that never show a feed's secret token."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cardcrm.cli import main
from cardcrm.common.access_log import REDACTED, RedactingLogger, redact
from cardcrm.common.config import MAX_BODY_BYTES
from cardcrm.common.proxy import behind_proxies
from cardcrm.core.events.views import MAX_WAIT_SECONDS
from cardcrm.server import SERVICES, SIDECARS, GunicornServer, gunicorn_options
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
CONTRIB = ROOT / "contrib"
SYSTEMD = CONTRIB / "systemd"
NGINX_SITE = CONTRIB / "nginx" / "cardcrm.conf"
CARDCRM = Path(sys.executable).parent / "cardcrm"
START_TIMEOUT = 20.0
#: What a client behind nginx sends through it (203.0.113.0/24 is for documentation).
FORWARDED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "crm.example.com",
    "X-Forwarded-Prefix": "/calendar",
}


def gunicorn_file(service: str) -> Path:
    return CONTRIB / "gunicorn" / f"{service}.conf.py"


def gunicorn_settings(path: Path, **overrides: Any) -> Any:
    """The settings ``cardcrm serve --config PATH`` runs with, read by gunicorn's own loader."""
    options = gunicorn_options("127.0.0.1", 8000, 2, 4)
    return GunicornServer(lambda: None, options, config_file=str(path), overrides=overrides).cfg


def bound_port(service: str) -> int:
    return int(gunicorn_settings(gunicorn_file(service)).bind[0].rsplit(":", 1)[1])


# --- gunicorn -------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_gunicorn_file_loads_through_gunicorn_with_what_production_needs(service):
    settings = gunicorn_settings(gunicorn_file(service))

    host, _ = settings.bind[0].rsplit(":", 1)
    assert host == "127.0.0.1", "only nginx, on the same machine, may reach a service"
    assert settings.worker_class_str == "gthread"
    assert settings.workers >= 2 and settings.threads >= 2
    assert settings.logger_class is RedactingLogger
    assert settings.accesslog == "-" and settings.errorlog == "-"
    assert settings.proc_name == f"cardcrm-{service}"
    assert settings.timeout >= 30
    # The code's defaults stay where the file says nothing.
    assert settings.control_socket_disable is True


def test_a_restart_of_core_lets_a_long_poll_of_the_event_feed_finish():
    assert gunicorn_settings(gunicorn_file("core")).graceful_timeout > MAX_WAIT_SECONDS
    # Without a file too (long-polls are also woken at once: test_server_process.py).
    assert gunicorn_options("127.0.0.1", 8000, 2, 4)["graceful_timeout"] > MAX_WAIT_SECONDS


def test_the_three_services_listen_on_three_ports():
    assert len({bound_port(service) for service in SERVICES}) == len(SERVICES)


def test_the_command_line_wins_over_the_file():
    settings = gunicorn_settings(gunicorn_file("core"), bind="0.0.0.0:9000", workers=1)
    assert settings.bind == ["0.0.0.0:9000"] and settings.workers == 1
    assert settings.threads == 4  # from the file, untouched


def test_a_wrong_value_in_a_gunicorn_file_stops_serve_with_gunicorns_message(tmp_path):
    config = tmp_path / "wrong.conf.py"
    config.write_text('workers = "many"\n')

    result = CliRunner().invoke(
        main, ["serve", "core", "--config", str(config), "--data", str(tmp_path / "data")]
    )

    assert result.exit_code == 1
    assert "workers" in result.output and "many" in result.output


# --- the access log -------------------------------------------------------------------------------


def test_a_feed_token_and_secret_query_values_are_blanked_out_of_a_request_line():
    token = "Qm9vdHN0cmFwLXRva2VuLTEyMzQ1Njc4"
    line = f"GET /calendar/feeds/{token}.ics?format=todos HTTP/1.1"
    assert redact(line) == f"GET /calendar/feeds/{REDACTED}.ics?format=todos HTTP/1.1"
    assert redact(f"/feeds/{token}") == f"/feeds/{REDACTED}"
    assert redact("after=5&access_token=abc&webhook_secret=s3&wait=20") == (
        f"after=5&access_token={REDACTED}&webhook_secret={REDACTED}&wait=20"
    )
    assert redact("/api/v1/products/7/cards?q=token&limit=50") == (
        "/api/v1/products/7/cards?q=token&limit=50"
    )


def test_an_access_line_prints_what_its_format_names_with_no_secret_in_it(tmp_path):
    """Whatever the format names, a line of the access log has no credential header, feed
    token or secret query value; what is not a secret prints as gunicorn prints it."""
    from datetime import timedelta

    from gunicorn.config import Config

    token = "Qm9vdHN0cmFwLXRva2VuLTEyMzQ1Njc4"
    log = tmp_path / "access.log"
    config = Config()
    config.set("accesslog", str(log))
    config.set(
        "access_log_format",
        '%(h)s "%(r)s" %(s)s %(q)s %({Authorization}i)s %({user-agent}i)s %({cookie}i)s '
        "%({x-missing}i)s %(U)s",
    )
    logger = RedactingLogger(config)
    response = SimpleNamespace(status="200 OK", response_length=12, headers=(), sent=12)
    request = SimpleNamespace(
        headers=[
            ("AUTHORIZATION", f"Bearer {token}"),
            ("USER-AGENT", "DAVx5/4.4"),
            ("COOKIE", f"session={token}"),
        ]
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/calendar/feeds/{token}.ics?format=todos&access_token={token}",
        "PATH_INFO": f"/calendar/feeds/{token}.ics",
        "QUERY_STRING": f"format=todos&access_token={token}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    logger.access(response, request, environ, timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = log.read_text().strip()
    assert token not in line
    assert line == (
        f'127.0.0.1 "GET /calendar/feeds/{REDACTED}.ics?format=todos&access_token={REDACTED} '
        f'HTTP/1.1" 200 format=todos&access_token={REDACTED} {REDACTED} DAVx5/4.4 {REDACTED} - '
        f"/calendar/feeds/{REDACTED}.ics"
    )


# --- systemd --------------------------------------------------------------------------------------


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section → key → values (a key may be given more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert equals, f"{path.name}: not a setting: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


UNITS = {path.name: read_unit(path) for path in sorted(SYSTEMD.glob("*.service"))}
LONG_RUNNING = {
    **{f"cardcrm-{service}.service": ["serve", service] for service in SERVICES},
    **{f"cardcrm-{service}-worker.service": ["worker", service] for service in SIDECARS},
    "cardcrm-mail.service": ["serve", "mail"],
}
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
}


def test_there_is_a_unit_for_each_service_each_worker_and_the_migrations():
    assert set(UNITS) == set(LONG_RUNNING) | {"cardcrm-migrate.service"}
    target = read_unit(SYSTEMD / "cardcrm.target")
    assert set(target["Unit"]["Wants"][0].split()) == set(UNITS)


@pytest.mark.parametrize("name", sorted(UNITS))
def test_every_unit_runs_a_real_cardcrm_command_as_cardcrm_in_a_sandbox(name):
    service = UNITS[name]["Service"]
    (exec_start,) = service["ExecStart"]
    program, *args = shlex.split(exec_start)
    assert Path(program).name == "cardcrm"

    # The command and every option it gives exist (click refuses unknown ones before --help).
    result = CliRunner().invoke(main, [*args, "--help"], prog_name="cardcrm")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cardcrm {args[0]}")

    assert service["User"] == ["cardcrm"] and service["Group"] == ["cardcrm"]
    assert service["EnvironmentFile"] == ["/etc/cardcrm/cardcrm.env"]
    assert service["StateDirectory"] == ["cardcrm"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], (name, key)


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_process_starts_after_the_migrations_and_comes_back_after_a_failure(name):
    unit = UNITS[name]
    program, *args = shlex.split(unit["Service"]["ExecStart"][0])
    assert args[:2] == LONG_RUNNING[name]
    assert "cardcrm-migrate.service" in unit["Unit"]["Requires"][0].split()
    assert "cardcrm-migrate.service" in unit["Unit"]["After"][0].split()
    assert unit["Service"]["Restart"] == ["on-failure"]
    assert unit["Install"]["WantedBy"] == ["cardcrm.target"]


def test_migrations_run_once_before_the_services():
    unit = UNITS["cardcrm-migrate.service"]
    assert unit["Service"]["Type"] == ["oneshot"]
    assert shlex.split(unit["Service"]["ExecStart"][0])[1:] == ["db", "upgrade"]


@pytest.mark.parametrize("service", list(SERVICES))
def test_a_service_unit_reads_its_gunicorn_file_and_waits_for_its_graceful_stop(service):
    unit = UNITS[f"cardcrm-{service}.service"]["Service"]
    args = shlex.split(unit["ExecStart"][0])
    config = Path(args[args.index("--config") + 1])
    assert config.name == gunicorn_file(service).name
    # gunicorn tells systemd when it listens, and systemd waits out its graceful stop.
    assert unit["Type"] == ["notify"]
    stop = int(unit["TimeoutStopSec"][0])
    assert gunicorn_settings(gunicorn_file(service)).graceful_timeout < stop


def variables_read_by_the_code() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "services").rglob("*.py"):
        found |= set(re.findall(r"\bCARDCRM_[A-Z_]+[A-Z]\b", path.read_text()))
    return found


def test_the_environment_file_sets_only_variables_the_code_reads():
    example = (SYSTEMD / "cardcrm.env.example").read_text()
    given = set(re.findall(r"^#?(CARDCRM_[A-Z_]+)=", example, re.MULTILINE))
    assert {"CARDCRM_DATABASE_URL", "CARDCRM_SECRET_KEY", "CARDCRM_SERVICE_TOKEN"} <= given
    assert given <= variables_read_by_the_code()


def test_an_example_environment_copied_unfilled_does_not_start(tmp_path):
    """The examples' CARDCRM_SECRET_KEY=CHANGE-ME is refused: a copied file that was never
    filled in stops the services instead of signing sessions with a published key."""
    for example in (SYSTEMD / "cardcrm.env.example", CONTRIB / "docker" / "compose.env.example"):
        (value,) = re.findall(r"^CARDCRM_SECRET_KEY=(.*)$", example.read_text(), re.MULTILINE)
        env = {"CARDCRM_SECRET_KEY": value, "CARDCRM_DATA_DIR": str(tmp_path / "data")}
        result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
        assert result.exit_code == 1, example
        assert "CARDCRM_SECRET_KEY is a placeholder" in result.stderr, example


def test_the_production_guide_explains_every_variable_the_code_reads():
    guide = (ROOT / "docs" / "production.md").read_text()
    assert {name for name in variables_read_by_the_code() if f"`{name}`" not in guide} == set()


# --- nginx ----------------------------------------------------------------------------------------


def nginx_site() -> SimpleNamespace:
    """What contrib/nginx/cardcrm.conf says: upstreams, locations, the prefix map."""
    text = NGINX_SITE.read_text()
    upstreams = {
        name: int(port)
        for name, port in re.findall(r"upstream (\w+) \{\s*server 127\.0\.0\.1:(\d+);", text)
    }
    locations = dict(re.findall(r"\n    location ((?:= )?\S+) \{(.*?)\n    \}", text, re.DOTALL))
    (prefix_map,) = re.findall(r"map \$uri \$cardcrm_prefix \{(.*?)\}", text, re.DOTALL)
    prefixes = dict(re.findall(r"~\^(\S+)\s+(\S+);", prefix_map))
    return SimpleNamespace(text=text, upstreams=upstreams, locations=locations, prefixes=prefixes)


def proxied_to(body: str) -> tuple[str, str]:
    """(upstream, URI part) of a location's ``proxy_pass http://UPSTREAM/URI;``."""
    (target,) = re.findall(r"proxy_pass http://(\w+)(/?\S*);", body)
    return target


def test_nginx_sends_each_path_to_the_port_its_service_listens_on():
    site = nginx_site()
    for service, (_, prefix) in SERVICES.items():
        location = f"{prefix}/"
        upstream, uri = proxied_to(site.locations[location])
        assert site.upstreams[upstream] == bound_port(service), service
        if prefix:
            # The trailing slash strips the prefix; X-Forwarded-Prefix tells the service.
            assert uri == "/"
            assert site.prefixes[location] == prefix
        else:
            assert uri == ""


def test_nginx_tells_every_service_what_the_client_asked_for():
    site = nginx_site()
    server_block = site.text[site.text.index("server {") :]
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert re.search(rf"\n    proxy_set_header {header} \$", server_block), header
    assert "\n    proxy_set_header X-Forwarded-Prefix $cardcrm_prefix;" in server_block
    # A location setting headers of its own would inherit none of the server's.
    for body in site.locations.values():
        assert "proxy_set_header" not in body


def test_nginx_waits_out_a_long_poll_and_lets_the_services_answer_a_large_body():
    site = nginx_site()
    upstream, _ = proxied_to(site.locations["= /api/v1/events"])
    assert site.upstreams[upstream] == bound_port("core")
    events = site.locations["= /api/v1/events"]
    (read_timeout,) = re.findall(r"proxy_read_timeout (\d+)s;", events)
    assert int(read_timeout) > MAX_WAIT_SECONDS
    assert "proxy_buffering off;" in events
    (body_size,) = re.findall(r"\n    client_max_body_size (\d+)m;", site.text)
    assert int(body_size) * 1024 * 1024 > MAX_BODY_BYTES


def test_nginx_lets_csv_imports_through_up_to_the_import_limit():
    from cardcrm.core.csv_io.limits import DEFAULT_MAX_MB

    site = nginx_site()
    (pattern, body) = re.findall(r"\n    location ~ (\S+) \{(.*?)\n    \}", site.text, re.DOTALL)[0]
    for path in (
        "/api/v1/products/12/cards.csv",
        "/api/v1/contacts.csv",
        "/products/12/import",
        "/contacts/import",
    ):
        assert re.match(pattern, path), path
    assert not re.match(pattern, "/api/v1/products/12/cards")
    upstream, _ = proxied_to(body)
    assert site.upstreams[upstream] == bound_port("core")
    (body_size,) = re.findall(r"client_max_body_size (\d+)m;", body)
    assert int(body_size) > DEFAULT_MAX_MB


# --- docker-compose -------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: cannot read the file")
    return yaml.safe_load((CONTRIB / "docker-compose.yml").read_text())


def test_docker_compose_names_every_process_and_runs_real_commands():
    services = compose()["services"]
    assert set(services) == {
        "postgres",
        "migrate",
        "core",
        "calendar",
        "notifications",
        "calendar-worker",
        "notifications-worker",
        "nginx",
    }
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["core"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    for name, service in services.items():
        if name in ("postgres", "nginx"):
            continue
        assert service["build"]["dockerfile"] == "contrib/Dockerfile"
        result = CliRunner().invoke(main, [*service["command"], "--help"], prog_name="cardcrm")
        assert result.exit_code == 0, (name, result.output)
        assert result.output.startswith(f"Usage: cardcrm {service['command'][0]}")
        assert service["environment"]["CARDCRM_TRUSTED_PROXIES"] == "1"


def test_docker_compose_gives_nginx_the_services_where_the_site_expects_them():
    services = compose()["services"]
    command = services["nginx"]["command"][-1]
    rewrites = dict(re.findall(r"s/127\\\.0\\\.0\\\.1:(\d+)/([\w-]+):(?:\d+)/", command))
    for service in SERVICES:
        container = rewrites[str(bound_port(service))]
        args = services[container]["command"]
        assert args[:2] == ["serve", service]
        assert args[args.index("--port") + 1] == str(bound_port(service))
        assert args[args.index("--config") + 1].endswith(gunicorn_file(service).name)


def test_docker_compose_creates_the_databases_its_services_use():
    environment = compose()["x-cardcrm"]["environment"]
    script = (CONTRIB / "docker" / "init-databases.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+);", script))
    used = {
        value.rsplit("/", 1)[1]
        for key, value in environment.items()
        if key.endswith("DATABASE_URL")
    }
    assert len(used) == 3 and used == created


# --- behind a reverse proxy -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def core(sqlite_template: Path, tmp_path: Path) -> Iterator[Any]:
    """Core over real HTTP on SQLite, with a user (``token``) and a service token."""
    from cardcrm.common.db import get_db
    from cardcrm.core import create_app
    from cardcrm.core.auth.service import create_token, create_user
    from werkzeug.serving import make_server

    path = tmp_path / "core.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{path}",
            "SECRET_KEY": "core-secret",
            "DATA_DIR": str(tmp_path),
        }
    )
    with app.app_context():
        session = get_db().session()
        user = create_user(session, email="ana@example.com", name="Ana", password="password123")
        token, _ = create_token(session, user=user)
        service_token, _ = create_token(session, service="sidecars")
        session.close()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield SimpleNamespace(
        url=f"http://127.0.0.1:{port}", token=token, service_token=service_token, app=app
    )
    server.shutdown()
    server.server_close()
    thread.join(5)
    with app.app_context():
        get_db().dispose()


@pytest.fixture(scope="module")
def sidecar_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Migrated SQLite databases of the two sidecars, copied by each test."""
    from cardcrm.calendar_sync.migrate import upgrade as upgrade_calendar
    from cardcrm.notifications.migrate import upgrade as upgrade_notifications

    folder = tmp_path_factory.mktemp("sidecars")
    upgrade_calendar(f"sqlite:///{folder / 'calendar.db'}")
    upgrade_notifications(f"sqlite:///{folder / 'notifications.db'}")
    return {"calendar": folder / "calendar.db", "notifications": folder / "notifications.db"}


def sidecar_database(sidecar_templates: dict[str, Path], name: str, folder: Path) -> str:
    path = folder / f"{name}.db"
    shutil.copyfile(sidecar_templates[name], path)
    return f"sqlite:///{path}"


def sidecar_settings(core: Any, database_url: str, folder: Path) -> dict[str, Any]:
    """A sidecar's settings as in production with no CARDCRM_PUBLIC_URL: URLs come from requests."""
    return {
        "DATABASE_URL": database_url,
        "CORE_URL": core.url,
        "SERVICE_TOKEN": core.service_token,
        "SECRET_KEY": "sidecar-secret",
        "DATA_DIR": str(folder),
        "PUBLIC_URL": "",
    }


def test_behind_a_trusted_proxy_a_feed_url_is_the_one_the_user_reaches(
    core, sidecar_templates, tmp_path
):
    from cardcrm.calendar_sync import create_app

    database_url = sidecar_database(sidecar_templates, "calendar", tmp_path)
    app = create_app(sidecar_settings(core, database_url, tmp_path))
    app.wsgi_app = behind_proxies(app.wsgi_app, 1)
    client = app.test_client()
    try:
        made = client.post(
            "/api/v1/feed", headers={"Authorization": f"Bearer {core.token}", **FORWARDED}
        )
        assert made.status_code == 201, made.get_json()
        url = made.get_json()["url"]
        assert url.startswith("https://crm.example.com/calendar/feeds/") and url.endswith(".ics")

        # nginx strips /calendar: the service itself serves the feed at /feeds/...
        feed = client.get(url.removeprefix("https://crm.example.com/calendar"))
        assert feed.status_code == 200 and feed.mimetype == "text/calendar"

        document = client.get("/api/v1/openapi.json", headers=FORWARDED).get_json()
        assert document["servers"] == [{"url": "/calendar"}]
    finally:
        app.extensions["calendar_sync"].close()


def test_forwarded_headers_are_ignored_unless_proxies_are_trusted(
    core, sidecar_templates, tmp_path
):
    from cardcrm.calendar_sync import create_app

    database_url = sidecar_database(sidecar_templates, "calendar", tmp_path)
    app = create_app(sidecar_settings(core, database_url, tmp_path))
    app.wsgi_app = behind_proxies(app.wsgi_app, 0)
    client = app.test_client()
    try:
        made = client.post(
            "/api/v1/feed", headers={"Authorization": f"Bearer {core.token}", **FORWARDED}
        )
        assert made.get_json()["url"].startswith("http://localhost/feeds/")
        document = client.get("/api/v1/openapi.json", headers=FORWARDED).get_json()
        assert document["servers"] == [{"url": "/"}]
    finally:
        app.extensions["calendar_sync"].close()


def test_the_notifications_openapi_document_points_under_its_prefix(
    core, sidecar_templates, tmp_path
):
    from cardcrm.notifications import create_app

    database_url = sidecar_database(sidecar_templates, "notifications", tmp_path)
    app = create_app(sidecar_settings(core, database_url, tmp_path))
    app.wsgi_app = behind_proxies(app.wsgi_app, 1)
    try:
        headers = {**FORWARDED, "X-Forwarded-Prefix": "/notifications"}
        document = app.test_client().get("/api/v1/openapi.json", headers=headers).get_json()
        assert document["servers"] == [{"url": "/notifications"}]
        assert "/api/v1/preferences" in document["paths"]
    finally:
        app.extensions["cardcrm_notifications"].close()


# --- real processes -------------------------------------------------------------------------------


def environment(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env.update(settings, PYTHONUNBUFFERED="1")
    return env


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listened on {port} within {START_TIMEOUT} s:\n{log.read_text()}")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[None]:
    """Run ``args`` until the block ends, once something listens on ``port``."""
    with log.open("w") as output:
        running = subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, running, log)
        yield
    finally:
        running.send_signal(signal.SIGINT)  # gunicorn and nginx: quick shutdown
        try:
            running.wait(timeout=15)
        except subprocess.TimeoutExpired:
            running.kill()
            running.wait(timeout=5)


def http(
    method: str, url: str, token: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, bytes]:
    """(status, content type, body) of one request."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read()


def wait_for_text(log: Path, text: str, count: int = 1) -> str:
    """The log once ``text`` is in it ``count`` times (gunicorn writes it after the answer)."""
    deadline = time.monotonic() + 5
    while log.read_text().count(text) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return log.read_text()


@pytest.mark.slow
def test_serve_reads_a_gunicorn_file_and_the_command_line_wins_over_it(sqlite_template, tmp_path):
    database = tmp_path / "core.db"
    shutil.copyfile(sqlite_template, database)
    env = environment(
        CARDCRM_DATA_DIR=str(tmp_path / "data"), CARDCRM_DATABASE_URL=f"sqlite:///{database}"
    )
    file_port, port = free_port(), free_port()
    access_log = tmp_path / "access.log"
    config = tmp_path / "core.conf.py"
    config.write_text(
        f'bind = "127.0.0.1:{file_port}"\nworkers = 1\naccesslog = {str(access_log)!r}\n'
    )
    args = [str(CARDCRM), "serve", "core", "--config", str(config), "--port", str(port)]

    with process(args, env, tmp_path / "serve.log", port):
        status, _, body = http("GET", f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        # The file's access log, not the code's default (standard output).
        assert "GET /healthz" in wait_for_text(access_log, "GET /healthz")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", file_port), timeout=0.5).close()

    assert "GET /healthz" not in (tmp_path / "serve.log").read_text()


def serve_calendar(
    core: Any, database_url: str, folder: Path, port: int
) -> tuple[list[str], dict[str, str]]:
    """``cardcrm serve calendar`` with the contrib file, as the systemd unit runs it."""
    args = [str(CARDCRM), "serve", "calendar", "--config", str(gunicorn_file("calendar"))]
    args += ["--port", str(port), "--workers", "1"]
    env = environment(
        CARDCRM_DATA_DIR=str(folder / "data"),
        CARDCRM_CALENDAR_DATABASE_URL=database_url,
        CARDCRM_CORE_URL=core.url,
        CARDCRM_SERVICE_TOKEN=core.service_token,
        CARDCRM_SECRET_KEY="calendar-secret-key-0123456789abcdef",
        CARDCRM_TRUSTED_PROXIES="1",
    )
    return args, env


@pytest.mark.slow
def test_the_served_calendar_makes_feed_urls_behind_a_proxy_and_never_logs_their_token(
    core, sidecar_templates, tmp_path
):
    database_url = sidecar_database(sidecar_templates, "calendar", tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "calendar.log"
    args, env = serve_calendar(core, database_url, tmp_path, port)

    with process(args, env, log, port):
        status, _, body = http("POST", f"{base}/api/v1/feed", core.token, FORWARDED)
        assert status == 201, body
        url = json.loads(body)["url"]
        token = re.fullmatch(r"https://crm\.example\.com/calendar/feeds/(.+)\.ics", url).group(1)

        for query in ("", "?format=todos"):
            status, content_type, _ = http("GET", f"{base}/feeds/{token}.ics{query}")
            assert (status, content_type) == (200, "text/calendar")
        assert http("GET", f"{base}/feeds/{token[:-3]}abc.ics")[0] == 404

        printed = wait_for_text(log, f"/feeds/{REDACTED}.ics", count=3)

    assert token not in printed and token[:-3] not in printed
    assert f'"GET /feeds/{REDACTED}.ics?format=todos HTTP/1.1" 200' in printed
    # The client's address as nginx saw it, not nginx's.
    assert re.search(r"^203\.0\.113\.9 .*POST /api/v1/feed", printed, re.MULTILINE), printed


@pytest.mark.slow
def test_nginx_with_the_contrib_site_serves_core_and_a_sidecar_under_one_host_name(
    core, sidecar_templates, tmp_path
):
    if shutil.which("nginx") is None:
        reason = "nginx is not installed (CI installs nginx-light)"
        if os.environ.get("CARDCRM_TEST_REQUIRE_ALL"):
            pytest.fail(f"{reason}; CARDCRM_TEST_REQUIRE_ALL is set: nothing may be skipped")
        pytest.skip(reason)
    calendar_port, nginx_port, nowhere = free_port(), free_port(), free_port()
    folder = tmp_path / "nginx"
    (folder / "logs").mkdir(parents=True)
    site = (
        NGINX_SITE.read_text()
        .replace(f"127.0.0.1:{bound_port('core')};", f"{core.url.removeprefix('http://')};")
        .replace(f"127.0.0.1:{bound_port('calendar')};", f"127.0.0.1:{calendar_port};")
        .replace(f"127.0.0.1:{bound_port('notifications')};", f"127.0.0.1:{nowhere};")
        .replace("/var/log/nginx/", f"{folder}/logs/")
    )
    site = re.sub(r"\n\s*listen \[::\]:80;", "", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{nginx_port};")
    (folder / "cardcrm.conf").write_text(site)
    (folder / "nginx.conf").write_text(
        f"daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/logs/error.log;\n"
        "events {}\nhttp {\n"
        + "".join(
            f"  {kind}_temp_path {folder}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {folder}/cardcrm.conf;\n}}\n"
    )
    nginx = ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")]
    database_url = sidecar_database(sidecar_templates, "calendar", tmp_path)
    args, env = serve_calendar(core, database_url, tmp_path, calendar_port)
    base = f"http://127.0.0.1:{nginx_port}"

    with (
        process(args, env, tmp_path / "calendar.log", calendar_port),
        process(nginx, os.environ.copy(), folder / "nginx.out", nginx_port),
    ):
        status, _, body = http("GET", f"{base}/api/v1/me", core.token)
        assert status == 200 and json.loads(body)["email"] == "ana@example.com"

        status, _, body = http("POST", f"{base}/calendar/api/v1/feed", core.token)
        assert status == 201, body
        url = json.loads(body)["url"]
        assert url.startswith(f"{base}/calendar/feeds/")
        status, content_type, _ = http("GET", url)
        assert (status, content_type) == (200, "text/calendar")

        # The prefix is nginx's word, whatever a client claims.
        status, _, body = http(
            "GET", f"{base}/calendar/api/v1/openapi.json", headers={"X-Forwarded-Prefix": "/x"}
        )
        assert json.loads(body)["servers"] == [{"url": "/calendar"}]

        status, _, body = http("GET", f"{base}/api/v1/events?after=0", core.service_token)
        assert status == 200 and "items" in json.loads(body)

        token = url.rsplit("/", 1)[1].removesuffix(".ics")
        access_log = folder / "logs" / "cardcrm.access.log"
        nginx_log = wait_for_text(access_log, "/api/v1/events")
        calendar_log = wait_for_text(tmp_path / "calendar.log", f"/feeds/{REDACTED}.ics")

    assert f"GET /calendar/feeds/{REDACTED}.ics HTTP/1.1" in nginx_log
    assert token not in nginx_log and token not in calendar_log
