"""Fixtures shared by every test: real databases, the core app, and API helpers.

Each test that uses ``app`` runs on SQLite and, when ``CARDCRM_TEST_POSTGRES_URL`` is set (as
in CI), again on PostgreSQL. Both are migrated once per session with the real migrations;
SQLite tests then get a copy of the migrated file, PostgreSQL tests an emptied database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cardcrm.common.db import get_db
from cardcrm.core import create_app
from cardcrm.core.auth.service import create_token, create_user
from cardcrm.core.migrate import upgrade
from cardcrm.core.models import Base
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

POSTGRES_URL = os.environ.get("CARDCRM_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def _share_url_builders() -> None:
    """Compile each URL rule's builder once per process instead of once per app.

    werkzeug turns every rule of an app's URL map into Python source and compiles it when the
    app is made: about 0.2 s of the half second ``create_app`` costs, paid again by each of the
    thousands of apps the suite makes (one or more per test) for the same few hundred rules.
    The compiled builder is a plain function of the rule it is bound to (it reads the rule's
    converters through its first argument), so one built for an equal rule of another app
    is the same function. What it depends on is the key: the rule as parsed (its trace), its
    defaults and whether it appends unknown arguments. Production compiles as werkzeug does.
    """
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    if getattr(compile_builder, "shared", False):
        return
    built: dict[Any, Any] = {}

    def shared(self: Rule, append_unknown: bool = True) -> Any:
        defaults = tuple(sorted((str(k), repr(v)) for k, v in (self.defaults or {}).items()))
        key = (self.rule, tuple(self._trace), defaults, append_unknown)
        if key not in built:
            built[key] = compile_builder(self, append_unknown)
        return built[key]

    shared.shared = True  # type: ignore[attr-defined]
    Rule._compile_builder = shared  # type: ignore[method-assign]


_share_url_builders()


def _share_compiled_templates() -> None:
    """Compile each Jinja template once per process instead of once per app.

    Every app has its own Jinja environment, whose template cache starts empty: each test that
    renders a page parsed and compiled every template the page uses (its layout, macros and
    partials) again, most of a web test's time. A bytecode cache is Jinja's own way to keep
    compiled templates beyond one environment: keyed by the template's name and file, and
    recompiled when its source changes (its checksum). Every app the tests make configures
    Jinja alike (Flask's options, Flask-Babel's gettext), so the code compiled for one is the
    code any other would compile. Production compiles as Jinja does."""
    from flask import Flask
    from jinja2.bccache import Bucket, BytecodeCache

    class SharedTemplateCode(BytecodeCache):
        def __init__(self) -> None:
            self.code: dict[str, tuple[str | None, Any]] = {}

        def load_bytecode(self, bucket: Bucket) -> None:
            checksum, code = self.code.get(bucket.key, (None, None))
            if code is not None and checksum == bucket.checksum:
                bucket.code = code

        def dump_bytecode(self, bucket: Bucket) -> None:
            self.code[bucket.key] = (bucket.checksum, bucket.code)

    if "bytecode_cache" not in Flask.jinja_options:
        Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": SharedTemplateCode()}


_share_compiled_templates()


def pytest_configure(config: pytest.Config) -> None:
    """Compile the project's modules to bytecode files before the run (in the controller).

    Where ``PYTHONDONTWRITEBYTECODE`` is set (as on CI's machine) no process writes them, so
    each of the hundred-odd processes the suite starts (``cardcrm up``, ``serve``, the command
    line, the test workers) compiled every module of the services again: most of a second of
    CPU each. Compiling skips what is up to date, so this costs nothing on a second run."""
    if hasattr(config, "workerinput"):
        return
    import compileall

    root = Path(__file__).resolve().parents[1]
    for folder in ("services", "plugins"):
        compileall.compile_dir(root / folder, quiet=1)


#: The modules with the longest single tests (a minute or more each): they run first of all.
LONGEST_FIRST = ("tests/test_schemathesis.py", "tests/e2e/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests run first (the longest of all at the very start), the quick ones last.

    The workers share the run by stealing from each other's queue: a long test left near the
    end of one had the other worker idle until it finished, while quick tests at the end let
    both finish together. The order within each group is the modules' own (a module's tests
    stay together, sharing its fixtures)."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slow") is None:
            return 2
        return 0 if item.nodeid.startswith(LONGEST_FIRST) else 1

    items.sort(key=rank)


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES_URL:
        return f"databases: SQLite and PostgreSQL ({make_url(POSTGRES_URL).render_as_string(True)})"
    return "databases: SQLite only (set CARDCRM_TEST_POSTGRES_URL to add PostgreSQL)"


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Users made in process get a one-round PBKDF2 hash instead of the deliberately slow
    scrypt (about half a second each on a busy machine, and most tests make two or more users:
    that was the largest single cost of the suite). Logging in checks the password the same
    way whatever the method, so every behaviour stays tested; the processes the tests start
    (``cardcrm up``, ``cardcrm serve``, the command line) hash with scrypt as in production."""
    from cardcrm.core.auth import service
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(
        service,
        "generate_password_hash",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"),
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "core.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("CARDCRM_TEST_POSTGRES_URL is not set: PostgreSQL tests run in CI")
    name = f"cardcrm_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "core.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    empty_postgres(url)
    return url


def empty_postgres(url: str, metadata: MetaData = Base.metadata) -> None:
    """Empty every table of ``metadata`` and restart the sequences: the database as migrated.

    DELETE, children first, rather than TRUNCATE: TRUNCATE gives each table new files (and
    syncs them to disk), which took about a second per database for each test on a busy
    machine, while deleting the few rows a test wrote takes a tenth of that. The sequences
    restart as ``TRUNCATE ... RESTART IDENTITY`` restarts them (ids start at 1 again)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            sequences = connection.scalars(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
            )
            statements = [f'DELETE FROM "{table.name}"' for table in metadata.sorted_tables[::-1]]
            statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
            connection.exec_driver_sql("; ".join(statements))
    finally:
        engine.dispose()


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "DATA_DIR": str(tmp_path),
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    app = create_app(app_config)
    yield app
    if listener := app.extensions.get("cardcrm_event_listener"):
        listener.close()  # its own connection, outside the pool (PostgreSQL)
    get_db_from(app).dispose()


def get_db_from(app: Any) -> Any:
    with app.app_context():
        return get_db()


@pytest.fixture
def db_session(app: Any) -> Iterator[Any]:
    """A session of the app's database, for building data through the service functions."""
    with app.app_context():
        session = get_db().session()
        yield session
        session.close()


class Api:
    """A test client speaking JSON with one user's bearer token."""

    def __init__(self, client: Any, token: str | None, user: Any = None) -> None:
        self.client, self.token, self.user = client, token, user

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        result = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        result.update(headers or {})
        return result

    def request(
        self, method: str, path: str, json: Any = None, headers: dict | None = None, **kwargs: Any
    ) -> Any:
        if not path.startswith("/"):
            path = "/api/v1/" + path
        return self.client.open(
            path, method=method, json=json, headers=self._headers(headers), **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    # small action helpers, as a user of the API would chain them

    def ok(
        self, method: str, path: str, json: Any = None, status: int | None = None, **kwargs: Any
    ) -> Any:
        response = self.request(method, path, json=json, **kwargs)
        expected = status or (201 if method == "POST" and response.status_code == 201 else 200)
        assert response.status_code == expected, (response.status_code, response.get_json())
        return response.get_json()

    def product(self, template: str | None = "sales", **body: Any) -> dict:
        body.setdefault("name", f"{template or 'Custom'} {uuid.uuid4().hex[:6]}")
        if template:
            body["template"] = template
        return self.ok("POST", "products", body, status=201)

    def card(self, product: dict, title: str = "A card", **body: Any) -> dict:
        return self.ok(
            "POST", f"products/{product['id']}/cards", {"title": title, **body}, status=201
        )

    def grant(self, product: dict, *members: Api, own_cards_only: bool = False) -> None:
        """Make users members of a product (as an admin), keeping its current members."""
        path = f"products/{product['id']}/members"
        items = self.ok("GET", path)["items"]
        known = {item["user_id"] for item in items}
        items += [
            {"user_id": member.user.id, "own_cards_only": own_cards_only}
            for member in members
            if member.user.id not in known
        ]
        self.ok("PUT", path, {"items": items})

    def task(self, card: dict, due: str, text: str = "Call back", **body: Any) -> dict:
        return self.ok(
            "POST", f"cards/{card['id']}/tasks", {"text": text, "due": due, **body}, status=201
        )


def make_user(
    app: Any, email: str, *, admin: bool = False, timezone: str = "UTC"
) -> tuple[Any, str]:
    with app.app_context():
        session = get_db().session()
        try:
            user = create_user(
                session,
                email=email,
                name=email.split("@")[0].title(),
                password="password123",
                timezone=timezone,
                is_admin=admin,
            )
            token, _ = create_token(session, user=user)
            return user, token
        finally:
            session.close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def admin(app: Any, client: Any) -> Api:
    user, token = make_user(app, "admin@example.com", admin=True)
    return Api(client, token, user)


@pytest.fixture
def member(app: Any, client: Any) -> Api:
    user, token = make_user(app, "member@example.com")
    return Api(client, token, user)


@pytest.fixture
def anonymous(client: Any) -> Api:
    return Api(client, None)


@pytest.fixture
def new_user(app: Any, client: Any) -> Any:
    """Make another user with a token: ``new_user("ana@example.com", timezone=...)``."""

    def make(email: str, *, admin: bool = False, timezone: str = "UTC") -> Api:
        user, token = make_user(app, email, admin=admin, timezone=timezone)
        return Api(client, token, user)

    return make


class SqliteBackup:
    """A backup of a test's live SQLite core database, taken and restored as an administrator
    would with ``sqlite3``'s online backup (a consistent copy of what is committed)::

        backup = SqliteBackup(database_url, tmp_path)  # skips the test on PostgreSQL
        backup.take()
        ...
        backup.restore()  # core alone restored: the sidecars' cursors are now ahead
    """

    def __init__(self, database_url: str, folder: Path) -> None:
        if not database_url.startswith("sqlite"):
            pytest.skip("the backup here is a copy of the SQLite file")
        self.database = database_url.removeprefix("sqlite:///")
        self.copy = str(folder / "core-backup.db")

    def take(self) -> None:
        self._backup(self.database, self.copy)

    def restore(self) -> None:
        self._backup(self.copy, self.database)

    @staticmethod
    def _backup(source: str, target: str) -> None:
        with (
            contextlib.closing(sqlite3.connect(source)) as src,
            contextlib.closing(sqlite3.connect(target)) as dst,
        ):
            src.backup(dst)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """A WSGI app served over real HTTP on a free loopback port, in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        import threading

        from werkzeug.serving import make_server

        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def core_server(app: Any) -> Iterator[Any]:
    """Core over real HTTP, with a service token for sidecars (``.service_token``)."""
    from types import SimpleNamespace

    server = LiveServer(app)
    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="tests")
        session.close()
    yield SimpleNamespace(url=server.url, app=app, service_token=token, server=server)
    server.stop()
