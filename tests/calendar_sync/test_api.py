"""The calendar sync API's contract: who may call it, problem+json for bad input, OpenAPI,
and a database built by the migrations exactly as the models describe it."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cardcrm.calendar_sync import create_app
from cardcrm.calendar_sync.config import from_env
from cardcrm.calendar_sync.db import Base
from cardcrm.calendar_sync.migrate import VERSION_TABLE
from sqlalchemy import create_engine

from .conftest import PUBLIC_URL, free_port


def problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def test_the_api_needs_a_users_token(calendar, core_server):
    client = calendar.client
    for method, path in [
        ("POST", "/api/v1/feed"),
        ("GET", "/api/v1/feed"),
        ("GET", "/api/v1/caldav"),
        ("POST", "/api/v1/caldav"),
        ("DELETE", "/api/v1/feed"),
        ("GET", "/api/v1/caldav/1"),
        ("POST", "/api/v1/caldav/1/sync"),
        ("DELETE", "/api/v1/caldav/1"),
    ]:
        problem(client.open(path, method=method), 401)
        bad = {"Authorization": "Bearer ccrm_not-a-token"}
        problem(client.open(path, method=method, headers=bad), 401)
        # A service token is no user: nothing here is a service's.
        service = {"Authorization": f"Bearer {core_server.service_token}"}
        problem(client.open(path, method=method, headers=service), 401)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"url", "username", "password"}),
        ({"url": "ftp://example.com/", "username": "a", "password": "b"}, {"url"}),
        ({"url": "not a url", "username": "a", "password": "b"}, {"url"}),
        ({"url": "https://dav.example.com/", "username": "", "password": "b"}, {"username"}),
        ({"url": "https://dav.example.com/", "username": "a", "password": 7}, {"password"}),
        ({"url": "https://x.example/", "username": "a", "password": "b", "colour": 1}, {"colour"}),
        ([1, 2], {"_schema"}),
    ],
)
def test_bad_account_input_is_a_422_naming_the_fields(calendar, member, body, fields):
    response = calendar.api(member).post("caldav", body)
    assert set(problem(response, 422)["errors"]) == fields


def test_malformed_or_oversized_bodies_are_refused(calendar, member):
    api = calendar.api(member)
    headers = {"Content-Type": "application/json"}
    problem(api.request("POST", "caldav", data="{not json", headers=headers), 400)
    huge = '{"url": "' + "x" * (2 * 1024 * 1024) + '"}'
    problem(api.request("POST", "caldav", data=huge, headers=headers), 413)


def test_unknown_paths_methods_and_formats_are_problems_too(calendar, member):
    url = calendar.new_feed(member)
    body = problem(calendar.get(url + "?format=calendar"), 422)
    assert set(body["errors"]) == {"format"}
    problem(calendar.get(f"{PUBLIC_URL}/feeds/nothing-here.ics?format=calendar"), 422)
    problem(calendar.api(member).get("caldav/12345"), 404)
    problem(calendar.client.get("/api/v1/nothing"), 404)
    problem(calendar.client.put("/api/v1/feed"), 405)
    calendar.api(member).ok("DELETE", "feed", status=204)
    problem(calendar.api(member).delete("feed"), 404)


def test_a_core_that_is_down_is_a_503_not_a_crash(calendar_settings, member):
    from .conftest import CalendarService

    down = {**calendar_settings, "CORE_URL": f"http://127.0.0.1:{free_port()}"}
    service = CalendarService(create_app(down), type(member))
    try:
        response = service.api(member).post("feed")
    finally:
        service.context.close()
    problem(response, 503)
    assert response.headers["Retry-After"]


def test_the_openapi_document_describes_every_endpoint(calendar):
    spec = calendar.client.get("/api/v1/openapi.json").get_json()

    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {
        "/api/v1/feed",
        "/api/v1/caldav",
        "/api/v1/caldav/{account_id}",
        "/api/v1/caldav/{account_id}/sync",
        "/api/v1/app-passwords",
        "/api/v1/app-passwords/{password_id}",
        "/feeds/{token}.ics",
        "/healthz",
    }
    assert set(spec["paths"]["/api/v1/feed"]) == {"get", "post", "delete"}
    created = spec["paths"]["/api/v1/caldav"]["post"]
    assert {"201", "401", "409", "422"} <= set(created["responses"])
    body = created["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    account = spec["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert set(account["required"]) == {"url", "username", "password"}
    feed = spec["paths"]["/feeds/{token}.ics"]["get"]
    assert {"200", "304", "404"} <= set(feed["responses"])
    assert "security" not in feed
    from openapi_spec_validator import validate

    validate(spec)
    assert calendar.client.get("/healthz").get_json()["status"] == "ok"


def test_the_settings_come_from_the_environment(tmp_path):
    settings = from_env(
        {
            "CARDCRM_PUBLIC_URL": "https://crm.example.com/",
            "CARDCRM_CORE_URL": "http://core:8000",
            "CARDCRM_SERVICE_TOKEN": "ccrm_service",
            "CARDCRM_SECRET_KEY": "calendar-secret-key-0123456789abcdef",
        },
        data=str(tmp_path),
    )
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'calendar.db'}"
    assert settings["PUBLIC_URL"] == "https://crm.example.com/calendar"
    assert settings["CORE_URL"] == "http://core:8000"
    assert settings["SERVICE_TOKEN"] == "ccrm_service"
    assert settings["SECRET_KEY"] == "calendar-secret-key-0123456789abcdef"
    explicit = from_env(
        {
            "CARDCRM_CALENDAR_PUBLIC_URL": "https://cal.example.com",
            "CARDCRM_CALENDAR_DATABASE_URL": "postgresql+psycopg://db/calendar",
        },
        data=str(tmp_path),
    )
    assert explicit["PUBLIC_URL"] == "https://cal.example.com"
    assert explicit["DATABASE_URL"] == "postgresql+psycopg://db/calendar"
    assert explicit["CORE_URL"] == "http://127.0.0.1:8000"
    assert explicit["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()


def test_migrated_database_matches_the_models(calendar_database_url):
    engine = create_engine(calendar_database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    differences = [
        item
        for item in differences
        if not (item[0] == "remove_table" and item[1].name.startswith("alembic_version"))
    ]
    assert differences == []


def test_docs_name_every_calendar_hook_with_its_exact_signature():
    import inspect
    import re
    from pathlib import Path

    from cardcrm.calendar_sync import hookspecs

    docs = (Path(__file__).resolve().parents[2] / "docs" / "calendar.md").read_text()
    specs = {
        name: inspect.signature(function)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if getattr(function, "cardcrm_spec", None) is not None
    }
    assert "cardcrm_calendar_component" in specs
    for name, signature in specs.items():
        assert f"#### {name}({', '.join(signature.parameters)})" in docs.splitlines()
    assert set(re.findall(r"^#### (cardcrm_\w+)\(", docs, flags=re.MULTILINE)) == set(specs)


def test_the_plugin_example_in_the_docs_adds_an_alarm_to_calls(calendar_settings, member, sales):
    import re
    import types
    from pathlib import Path

    from .conftest import CalendarService

    docs = (Path(__file__).resolve().parents[2] / "docs" / "calendar.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", docs, flags=re.DOTALL)
    plugin = types.ModuleType("calendar_alarm_example")
    exec(compile(example, "docs/calendar.md", "exec"), plugin.__dict__)
    service = CalendarService(create_app({**calendar_settings, "PLUGINS": [plugin]}), type(member))
    try:
        card = member.card(sales, "ACME")
        member.task(card, "2026-12-01T09:30:00+01:00", "Call", type="call")
        member.task(card, "2026-12-01T10:30:00+01:00", "Mail", type="email")
        service.catch_up()
        served = service.feed(service.new_feed(member))
    finally:
        service.context.close()
    alarms = {str(event["SUMMARY"]): event.walk("VALARM") for event in served.walk("VEVENT")}
    assert len(alarms["Call — ACME"]) == 1
    assert alarms["Mail — ACME"] == []
