"""The ``cardcrm`` command line as an admin uses it to set up a server: databases, users and
API tokens, on the data folder (``--data`` / ``CARDCRM_DATA_DIR``) or ``CARDCRM_DATABASE_URL``."""

from __future__ import annotations

import os
import shlex
import stat
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


def cardcrm(
    command: str, *more: str | Path, env: dict[str, str] | None = None, input: str | None = None
) -> Result:
    """Run ``cardcrm COMMAND MORE...``, the command written as on a shell; ``input`` is what
    is typed at its prompts or piped to its standard input."""
    args = shlex.split(command) + [str(arg) for arg in more]
    return CliRunner().invoke(main, args, env=env, input=input, catch_exceptions=False)


def ok(
    command: str, *more: str | Path, env: dict[str, str] | None = None, input: str | None = None
) -> str:
    """Run a command that must succeed; its standard output."""
    result = cardcrm(command, *more, env=env, input=input)
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


def logs_in(url: str, email: str, password: str) -> bool:
    """Whether ``POST /api/v1/auth/token`` lets ``email`` in with ``password``."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "cli-test"})
    try:
        body = {"email": email, "password": password}
        return app.test_client().post("/api/v1/auth/token", json=body).status_code == 201
    finally:
        app.extensions["cardcrm_db"].dispose()


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


# --- Secrets stay out of `ps` ---------------------------------------------------------------------


def test_without_a_password_option_the_password_is_asked_for_twice_without_echo(data):
    output = ok(
        "user create ana@example.com --name Ana --data", data, input="typed-secret\ntyped-secret\n"
    )

    assert output.count("Password") == 1 and "Repeat for confirmation" in output
    assert "typed-secret" not in output
    assert logs_in(sqlite(data), "ana@example.com", "typed-secret")


def test_two_different_answers_are_asked_again(data):
    typed = "first-try-pass\nfirst-typo-pass\nsecond-try-pass\nsecond-try-pass\n"
    output = ok("user create ana@example.com --name Ana --data", data, input=typed)

    assert "do not match" in output
    assert logs_in(sqlite(data), "ana@example.com", "second-try-pass")
    assert not logs_in(sqlite(data), "ana@example.com", "first-try-pass")


def test_password_stdin_reads_the_password_piped_in(data):
    ok("user create ana@example.com --name Ana --password-stdin --data", data, input="piped pass\n")

    assert logs_in(sqlite(data), "ana@example.com", "piped pass")


def test_password_stdin_refuses_nothing_several_lines_or_a_password_given_as_well(data):
    for typed in ("", "\n", "one-line-pass\nanother-line\n"):
        result = cardcrm(
            "user create ana@example.com --name Ana --password-stdin --data", data, input=typed
        )
        assert result.exit_code == 2, typed
        assert "--password-stdin" in result.stderr
    both = cardcrm(
        "user create ana@example.com --name Ana --password s3cret-pass --password-stdin --data",
        data,
        input="s3cret-pass\n",
    )
    assert both.exit_code == 2 and "do not give it as well" in both.stderr
    assert not data.exists()


def test_the_password_option_says_it_is_visible_to_other_users():
    help_text = ok("user create --help")
    assert "--password-stdin" in help_text
    assert "Visible to other users in `ps`" in help_text


def test_a_token_to_revoke_is_asked_for_or_read_from_standard_input(data, ana, api_on):
    api = api_on(sqlite(data))
    asked = ok("token create", ana, "--data", data).strip()
    piped = ok("token create", ana, "--data", data).strip()

    output = ok("token revoke --data", data, input=asked + "\n")
    assert asked not in output
    ok("token revoke --token-stdin --data", data, input=piped + "\n")

    assert api.get("me", asked).status_code == 401
    assert api.get("me", piped).status_code == 401


# --- Settings the commands refuse -----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "CHANGE-ME",
        "changeme",
        "Secret",
        "CHANGE-ME-to-a-long-random-value-0123456789",
        "ChangeMe_please_0123456789012345678901234",
        "short-but-real-9f8e7d6c",
    ],
)
def test_a_placeholder_or_short_secret_key_stops_the_command_before_it_writes(data, key):
    result = cardcrm("db upgrade --data", data, env={"CARDCRM_SECRET_KEY": key})

    assert result.exit_code == 1
    assert "CARDCRM_SECRET_KEY is" in result.stderr
    assert "at least 32 characters" in result.stderr
    assert "Traceback" not in result.output
    assert not data.exists()


def test_the_short_key_is_not_repeated_in_the_error(data):
    result = cardcrm("db upgrade --data", data, env={"CARDCRM_SECRET_KEY": "short-but-real-9f8e"})
    assert "too short (19 characters)" in result.stderr
    assert "short-but-real-9f8e" not in result.output


def test_a_long_random_secret_key_is_taken(data):
    ok("db upgrade --data", data, env={"CARDCRM_SECRET_KEY": "k3Y" * 11})
    assert not (data / "secret_key").exists()


def test_db_upgrade_makes_a_data_folder_and_files_only_their_owner_may_read(data):
    ok("db upgrade --data", data)

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data.iterdir()}
    assert {"core.db", "calendar.db", "notifications.db", "secret_key"} <= set(files)
    assert set(files.values()) == {0o600}, files


def test_an_existing_data_folder_keeps_the_mode_its_owner_gave_it(data):
    data.mkdir(mode=0o750)
    data.chmod(0o750)
    ok("db upgrade --data", data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o750
    assert stat.S_IMODE((data / "core.db").stat().st_mode) == 0o600


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


def test_a_service_token_does_only_what_its_scopes_name(data, ana, api_on):
    ana_id = api_on(sqlite(data)).get("me", ok("token create", ana, "--data", data).strip())
    acting = {"X-Cardcrm-On-Behalf-Of": str(ana_id.get_json()["id"])}
    default = ok("token create --service sidecars --data", data).strip()
    feed_only = ok("token create --service feed --scope events:read --data", data).strip()
    api = api_on(sqlite(data))

    def status(path: str, token: str, **headers: str) -> int:
        headers["Authorization"] = f"Bearer {token}"
        return api.client.get(f"/api/v1/{path}", headers=headers).status_code

    assert status("events?after=0", default) == 200
    assert status("me", default, **acting) == 200  # the sidecars' default scopes
    assert status("events?after=0", feed_only) == 200
    assert status("me", feed_only, **acting) == 403

    unknown = cardcrm("token create --service x --scope admin:all --data", data)
    assert unknown.exit_code == 2 and "admin:all" in unknown.stderr
    for_a_user = cardcrm(f"token create {ana} --scope events:read --data", data)
    assert for_a_user.exit_code == 2


def test_a_users_token_can_be_made_to_expire(data, ana, api_on):
    token = ok("token create", ana, "--expires-in-days", "7", "--data", data).strip()
    assert api_on(sqlite(data)).get("me", token).status_code == 200
    engine = create_engine(sqlite(data))
    with engine.connect() as connection:
        days = connection.scalar(
            text("SELECT julianday(expires_at) - julianday(created_at) FROM api_tokens")
        )
    engine.dispose()
    assert round(days) == 7


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
