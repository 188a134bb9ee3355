"""A database that cannot be reached is a 503 with Retry-After, for the API and the web UI,
and /healthz says so: never a 500 with a traceback."""

from __future__ import annotations

from cardcrm.core import create_app

from tests.conftest import free_port


def test_an_unreachable_database_is_a_503_that_says_to_retry(tmp_path):
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone?connect_timeout=2"
    app = create_app({"DATABASE_URL": nowhere, "SECRET_KEY": "x", "TESTING": False})
    client = app.test_client()

    api = client.get("/api/v1/me", headers={"Authorization": "Bearer ccrm_whatever"})
    assert api.status_code == 503
    assert api.mimetype == "application/problem+json"
    assert api.headers["Retry-After"] == "5"
    assert "database is unavailable" in api.get_json()["detail"]

    page = client.get("/login")
    assert page.status_code == 503
    assert page.mimetype == "text/html"
    assert page.headers["Retry-After"] == "5"

    assert client.get("/healthz").status_code == 503
