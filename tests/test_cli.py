"""The ``cardcrm`` command line as an admin uses it to set up a server: databases, users and
API tokens, on the data folder (``--data`` / ``CARDCRM_DATA_DIR``) or ``CARDCRM_DATABASE_URL``."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from cardcrm.cli import main
from cardcrm.core import create_app
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, text


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CARDCRM_* setting of the machine running the tests leaks into a command."""
    for key in [key for key in os.environ if key.startswith("CARDCRM_")]:
        monkeypatch.delenv(key)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def cardcrm(command: str, *more: str | Path, env: dict[str, str] | None = None) -> Result:
    """Run ``cardcrm COMMAND MORE...``, the command written as on a shell."""
    args = shlex.split(command) + [str(arg) for arg in more]
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def ok(command: str, *more: str | Path, env: dict[str, str] | None = None) -> str:
    """Run a command that must succeed; its standard output."""
    result = cardcrm(command, *more, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def users_in(url: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT email, name, is_admin, timezone FROM users"))
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


@pytest.fixture
def api_on() -> Iterator[Any]:
    """Open the HTTP API on a database: ``api_on(url).get(path, token)``."""
    apps: list[Any] = []

    class Client:
        def __init__(self, url: str) -> None:
            app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "cli-test"})
            apps.append(app)
            self.client = app.test_client()

        def get(self, path: str, token: str) -> Any:
            return self.client.get(f"/api/v1/{path}", headers={"Authorization": f"Bearer {token}"})

    yield Client
    for app in apps:
        app.extensions["cardcrm_db"].dispose()


def sqlite(folder: Path, name: str = "core.db") -> str:
    return f"sqlite:///{folder / name}"


# --- Databases ------------------------------------------------------------------------------------


def test_db_upgrade_creates_the_core_database_in_the_data_folder(data):
    output = ok("db upgrade --data", data)

    assert (data / "core.db").is_file()
    assert "up to date" in output
    engine = create_engine(sqlite(data))
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"users", "products", "statuses", "cards", "tasks", "events"} <= tables


def test_db_upgrade_can_run_again_on_an_up_to_date_database(data):
    ok("db upgrade --data", data)
    ok("user create ana@example.com --name Ana --password s3cret-pass --data", data)
    ok("db upgrade --data", data)
    assert [user["email"] for user in users_in(sqlite(data))] == ["ana@example.com"]


def test_the_version_is_the_distributions():
    assert ok("--version").strip().endswith(version("cardcrm"))


# --- Users ----------------------------------------------------------------------------------------


def test_an_admin_is_created_from_the_command_line(data):
    output = ok(
        "user create Boss@Example.com --name 'The Boss' --password s3cret-pass --admin --data", data
    )

    assert "boss@example.com" in output and "(admin)" in output
    assert users_in(sqlite(data)) == [
        {"email": "boss@example.com", "name": "The Boss", "is_admin": True, "timezone": "UTC"}
    ]


def test_a_member_is_created_in_their_time_zone(data):
    output = ok(
        "user create ana@example.com --name Ana --password s3cret-pass"
        " --timezone Europe/Bucharest --data",
        data,
    )

    assert "(admin)" not in output
    [ana] = users_in(sqlite(data))
    assert (ana["is_admin"], ana["timezone"]) == (False, "Europe/Bucharest")


def test_an_unknown_time_zone_is_refused_with_a_message(data):
    ok("db upgrade --data", data)
    result = cardcrm(
        "user create ana@example.com --name Ana --password s3cret-pass"
        " --timezone Mars/Olympus_Mons --data",
        data,
    )

    assert result.exit_code != 0
    assert "timezone" in result.stderr
    assert "Mars/Olympus_Mons" in result.stderr
    assert "Traceback" not in result.output
    assert users_in(sqlite(data)) == []


def test_a_bad_email_or_short_password_is_refused_naming_the_field(data):
    ok("db upgrade --data", data)
    result = cardcrm("user create not-an-email --name X --password s3cret-pass --data", data)
    assert result.exit_code != 0 and "email" in result.stderr

    result = cardcrm("user create x@example.com --name X --password short --data", data)
    assert result.exit_code != 0 and "password" in result.stderr
    assert users_in(sqlite(data)) == []


def test_a_second_user_with_the_same_email_is_refused(data):
    ok("user create ana@example.com --name Ana --password s3cret-pass --data", data)

    result = cardcrm(
        "user create ANA@example.com --name 'Ana again' --password other-pass --data", data
    )

    assert result.exit_code != 0
    assert "already exists" in result.stderr
    assert [user["name"] for user in users_in(sqlite(data))] == ["Ana"]


def test_a_user_needs_a_name_and_a_password(data):
    result = cardcrm("user create ana@example.com --data", data)
    assert result.exit_code == 2
    assert "--name" in result.stderr


# --- Tokens ---------------------------------------------------------------------------------------


@pytest.fixture
def ana(data: Path) -> str:
    ok(
        "user create ana@example.com --name Ana --password s3cret-pass"
        " --timezone Europe/Bucharest --data",
        data,
    )
    return "ana@example.com"


def test_a_token_printed_for_a_user_opens_the_api_as_that_user(data, ana, api_on):
    output = ok("token create", ana, "--data", data)

    lines = output.strip().splitlines()
    assert len(lines) == 1, "the token alone, so that scripts can capture it"
    token = lines[0]
    response = api_on(sqlite(data)).get("me", token)
    assert response.status_code == 200
    me = response.get_json()
    assert me["email"] == ana and me["timezone"] == "Europe/Bucharest"
    assert me["is_admin"] is False


def test_each_token_is_new(data, ana):
    assert ok("token create", ana, "--data", data) != ok("token create", ana, "--data", data)


def test_a_token_for_an_unknown_user_is_refused(data, ana):
    result = cardcrm("token create nobody@example.com --data", data)
    assert result.exit_code != 0
    assert "nobody@example.com" in result.stderr


def test_a_token_is_for_either_a_user_or_a_service(data, ana):
    neither = cardcrm("token create --data", data)
    both = cardcrm(f"token create {ana} --service calendar --data", data)
    assert neither.exit_code == 2 and both.exit_code == 2
    assert "--service" in neither.stderr


def test_a_service_token_reads_no_users_data(data, ana, api_on):
    token = ok("token create --service calendar-sync --data", data).strip()
    api = api_on(sqlite(data))

    for path in ("me", "products", "templates"):
        response = api.get(path, token)
        assert response.status_code == 403, path
        assert response.content_type == "application/problem+json"
        assert "service token" in response.get_json()["detail"]


def test_a_service_token_is_let_into_the_event_feed(data, ana, api_on):
    from cardcrm.core.auth.service import authenticate

    token = ok("token create --service notifications --data", data).strip()
    api = api_on(sqlite(data))
    headers = {"Authorization": f"Bearer {token}"}
    with api.client.application.test_request_context("/api/v1/events", headers=headers):
        principal = authenticate("events")
    assert principal.service == "notifications"
    assert principal.user is None


def test_a_revoked_token_is_refused_at_once(data, ana, api_on):
    token = ok("token create", ana, "--data", data).strip()
    api = api_on(sqlite(data))
    assert api.get("me", token).status_code == 200

    assert "revoked" in ok("token revoke", token, "--data", data)

    response = api.get("me", token)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    # Revoking again is harmless; an unknown token is an error.
    ok("token revoke", token, "--data", data)
    unknown = cardcrm("token revoke ccrm_not-a-token --data", data)
    assert unknown.exit_code != 0 and "no such token" in unknown.stderr


def test_revoking_one_token_keeps_the_others(data, ana, api_on):
    first = ok("token create", ana, "--data", data).strip()
    second = ok("token create", ana, "--data", data).strip()
    ok("token revoke", first, "--data", data)
    api = api_on(sqlite(data))
    assert api.get("me", first).status_code == 401
    assert api.get("me", second).status_code == 200


# --- Where the data goes --------------------------------------------------------------------------


def test_CARDCRM_DATABASE_URL_puts_users_in_that_database(tmp_path, data, api_on):
    other = sqlite(tmp_path / "elsewhere", "crm.sqlite")
    env = {"CARDCRM_DATABASE_URL": other}

    ok("db upgrade --data", data, env=env)
    ok("user create ana@example.com --name Ana --password s3cret-pass --data", data, env=env)
    token = ok("token create ana@example.com --data", data, env=env).strip()

    assert [user["email"] for user in users_in(other)] == ["ana@example.com"]
    assert not (data / "core.db").exists()
    assert api_on(other).get("me", token).get_json()["email"] == "ana@example.com"


def test_CARDCRM_DATA_DIR_is_the_data_folder_when_no_data_option_is_given(tmp_path, data):
    env = {"CARDCRM_DATA_DIR": str(data)}

    ok("db upgrade", env=env)
    ok("user create ana@example.com --name Ana --password s3cret-pass", env=env)

    assert [user["email"] for user in users_in(sqlite(data))] == ["ana@example.com"]


def test_the_data_option_wins_over_CARDCRM_DATA_DIR(tmp_path, data):
    elsewhere = tmp_path / "from-environment"
    ok("db upgrade --data", data, env={"CARDCRM_DATA_DIR": str(elsewhere)})
    assert (data / "core.db").is_file()
    assert not (elsewhere / "core.db").exists()


def test_the_data_folder_defaults_to_data_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok("db upgrade")
    assert (tmp_path / "data" / "core.db").is_file()


def test_the_command_line_works_on_the_configured_database(database_url, tmp_path, api_on):
    """Runs on SQLite and, with CARDCRM_TEST_POSTGRES_URL, on PostgreSQL."""
    env = {"CARDCRM_DATABASE_URL": database_url}
    data = str(tmp_path / "unused")

    ok("db upgrade --data", data, env=env)
    ok(
        "user create boss@example.com --name Boss --password s3cret-pass --admin --data",
        data,
        env=env,
    )
    token = ok("token create boss@example.com --data", data, env=env).strip()
    service = ok("token create --service calendar --data", data, env=env).strip()

    api = api_on(database_url)
    assert api.get("me", token).get_json()["is_admin"] is True
    assert api.get("me", service).status_code == 403
    ok("token revoke", token, "--data", data, env=env)
    assert api.get("me", token).status_code == 401
