"""Hostile input: schemathesis against every service's OpenAPI document.

Each service is driven in process (WSGI) from the document it serves, with generated valid and
invalid requests (schemathesis's coverage and fuzzing phases), as an admin, as a plain member
and as a caller with no token at all, on a database seeded so that ids exist. Every response
must be no 5xx, have a documented status code and content type, and match the documented
schema. The sidecars ask a real core over HTTP who owns a token, as in production.

The number of cases run per service is written at the end of each test, kept as the
``schemathesis_cases`` property of the JUnit report, and recorded in
``test-artifacts/schemathesis-cases.json`` (one entry per service, for release notes). The
whole run takes about two minutes on two cores.
"""

from __future__ import annotations

import functools
import json
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

#: What every response must satisfy.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Fixed, so that a run is reproducible (and a failure replays the same way).
SEED = 20261127
#: Examples per operation in the fuzzing phase (the coverage phase adds its own, deterministic):
#: the sidecars have a handful of operations each, so they get more of them.
MAX_EXAMPLES = 12
SIDECAR_MAX_EXAMPLES = 50
#: Ids the seeded databases have (products, cards, tasks, contacts... start at 1).
SEEDED_IDS = range(1, 7)
#: Where the case counts of the last run are kept, per service.
CASE_COUNTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "schemathesis-cases.json"


def closed_port() -> int:
    """A loopback port nothing listens on: a connection there is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: Where the URLs the services would connect to (CalDAV servers, webhooks) are sent.
CLOSED_PORT = closed_port()

# CSV imports take the file as the body: send generated text as it is.
schemathesis.serializer.alias("text/csv", "text/plain")
# The mail receiver's raw message (POST /mail/messages) is text too.
schemathesis.serializer.alias("message/rfc822", "text/plain")

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)
SIDECAR_SETTINGS = settings(FUZZ_SETTINGS, max_examples=SIDECAR_MAX_EXAMPLES)


def load_schema(app: Any, known: tuple[str, ...] = ()) -> Any:
    """The service's own OpenAPI document, to be called in process. Path parameters often
    name what the database holds (random values almost never would): seeded ids, and for
    text parameters the ``known`` values (secret feed tokens)."""
    config = schemathesis.Config.from_dict({"seed": SEED})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        path_parameters = path_parameters or {}
        seeded = {}
        for name, value in path_parameters.items():
            if isinstance(value, int) and not isinstance(value, bool):
                seeded[name] = st.sampled_from(SEEDED_IDS)
            elif isinstance(value, str) and known:
                seeded[name] = st.sampled_from(known)
        if not seeded:
            return st.just(path_parameters)
        existing = st.fixed_dictionaries(seeded).map(lambda values: {**path_parameters, **values})
        return st.one_of(st.just(path_parameters), existing)

    return schema


class CaseLog:
    """Runs each case as every caller; counts the cases per operation for the report."""

    def __init__(self) -> None:
        self.service = "?"
        self.cases: Counter[str] = Counter()
        self.requests = 0
        self.operations = 0

    def run(
        self,
        service: str,
        case: Any,
        callers: dict[str, dict[str, str]],
        prepare: Callable[[Any], None] | None = None,
    ) -> None:
        self.service = service
        self.operations = len(case.operation.schema)
        self.cases[case.operation.label] += 1
        if prepare is not None:
            prepare(case)
        for headers in callers.values():
            self.requests += 1
            case.call_and_validate(headers=headers, checks=CHECKS)

    def summary(self) -> str:
        return (
            f"schemathesis {self.service}: {sum(self.cases.values())} cases "
            f"({self.requests} requests) over {len(self.cases)} operations"
        )

    def record(self, path: Path) -> None:
        """Keep this service's counts in ``path`` beside the other services' (JSON)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            counts = json.loads(path.read_text())
        except (OSError, ValueError):
            counts = {}
        counts[self.service] = {
            "cases": sum(self.cases.values()),
            "requests": self.requests,
            "operations": len(self.cases),
        }
        path.write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def case_log(capsys: pytest.CaptureFixture, record_property: Any) -> Iterator[CaseLog]:
    log = CaseLog()
    yield log
    record_property("schemathesis_cases", sum(log.cases.values()))
    log.record(CASE_COUNTS)
    with capsys.disabled():
        print("\n" + log.summary())
    # Every operation of the document was tried (a filter or a broken hook would skip some).
    assert log.operations and len(log.cases) == log.operations


@pytest.fixture(autouse=True)
def schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 renames the test node per operation through ``node._nodeid``, which
    pytest 9 no longer has: give it one to write to (the real node id stays as it is)."""
    request.node._nodeid = request.node.nodeid


def bearer(api: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token}"}


# --- core ---------------------------------------------------------------------------------------


@pytest.fixture
def seeded_core(admin: Any, member: Any) -> dict[str, dict[str, str]]:
    """Products with cards and tasks (the member works on them), contacts and a favourite;
    the callers' headers: an admin's, a member's, and none (every operation is also tried
    without a token: the public ones fully, the others must answer 401)."""
    for template in ("sales", "projects", "sales"):
        product = admin.product(template)
        admin.grant(product, member)
        for number in range(1, 4):
            card = admin.card(product, f"Card {number}")
            admin.task(card, f"2030-01-0{number}T09:30:00Z")
            admin.task(card, f"2030-02-0{number}", all_day=True, assignee_id=member.user.id)
    for number in range(3):
        contact = {"kind": "person", "name": f"Ana {number}", "emails": [f"a{number}@example.com"]}
        admin.ok("POST", "contacts", contact, status=201)
    admin.ok("POST", "favorites", {"name": "Open", "product_id": 1, "query": {}}, status=201)
    return {"admin": bearer(admin), "member": bearer(member), "anonymous": {}}


@pytest.fixture
def core_schema(app: Any, seeded_core: Any) -> Any:
    return load_schema(app)


def no_long_polls(case: Any) -> None:
    """A valid ``wait`` of the event feed would only make the run wait for nothing."""
    query = case.query if isinstance(case.query, dict) else {}
    wait = query.get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 < wait <= 30:
        query["wait"] = 0


core = schemathesis.pytest.from_fixture("core_schema")


@pytest.mark.slow
@core.parametrize()
@FUZZ_SETTINGS
def test_core_answers_every_generated_request_as_documented(case, seeded_core, case_log):
    case_log.run("core", case, seeded_core, no_long_polls)


# --- the sidecars: their own databases, and core over real HTTP ---------------------------------


@pytest.fixture
def sidecar_database(database_url: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``make(name, upgrade)``: a migrated database of a sidecar, of the kind core's is."""
    made: list[str] = []

    def make(name: str, upgrade: Callable[[str], None]) -> str:
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / name}.db"
        else:
            made.append(f"cardcrm_{name}_fuzz_{uuid.uuid4().hex[:10]}")
            with server().connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{made[-1]}"'))
            url = make_url(database_url).set(database=made[-1]).render_as_string(False)
        upgrade(url)
        return url

    @functools.cache
    def server() -> Any:
        url = make_url(database_url).set(database="postgres").render_as_string(False)
        return create_engine(url, isolation_level="AUTOCOMMIT")

    yield make
    if made:
        with server().connect() as connection:
            for name in made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server().dispose()


# --- calendar sync --------------------------------------------------------------------------------


@pytest.fixture
def calendar_app(
    sidecar_database: Any, core_server: Any, seeded_core: Any, admin: Any, member: Any
) -> Iterator[Any]:
    """The calendar sync service with the seeded tasks mirrored, a feed per user and CalDAV
    accounts (stored as the API stores them; no server is asked, as no worker runs)."""
    from cardcrm.calendar_sync import create_app
    from cardcrm.calendar_sync.migrate import upgrade
    from cardcrm.calendar_sync.models import CaldavAccount

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sidecar_database("calendar", upgrade),
            "CORE_URL": core_server.url,
            "CORE_PUBLIC_URL": "https://crm.example.com",
            "SERVICE_TOKEN": core_server.service_token,
            "SECRET_KEY": "calendar-fuzz-secret",
            "PUBLIC_URL": "https://crm.example.com/calendar",
            "PULL_SECONDS": 3600,
            # Accounts are connected at a closed loopback port (``caldav_on_loopback``):
            # allowed, so that the check connects there and fails as on a server that is down.
            "OUTBOUND_ALLOW": f"127.0.0.1:{CLOSED_PORT}",
        }
    )
    context = app.extensions["calendar_sync"]
    context.follower().catch_up()
    client = app.test_client()
    tokens = []
    for user in (admin, member):
        made = client.post("/api/v1/feed", headers=bearer(user))
        assert made.status_code == 201, made.get_json()
        tokens.append(made.get_json()["url"].rsplit("/", 1)[1].removesuffix(".ics"))
    with context.database.writer() as session, session.begin():
        for number, user in enumerate((admin, admin, member)):
            session.add(
                CaldavAccount(
                    user_id=user.user.id,
                    url="http://127.0.0.1:9/dav/",
                    username=f"user{number}",
                    password_encrypted=context.passwords.seal("app-password"),
                    calendar_name="cardcrm",
                    calendar_url=f"http://127.0.0.1:9/dav/user{number}/cardcrm/",
                    last_error="Connection refused" if number else None,
                )
            )
    yield app, tuple(tokens)
    context.close()


@pytest.fixture
def calendar_schema(calendar_app: Any) -> Any:
    app, feed_tokens = calendar_app
    return load_schema(app, known=feed_tokens)


@functools.cache
def caldav_on_loopback(port: int) -> Callable[[Any], None]:
    """Connecting an account asks its server first: any URL the service would accept is
    moved to a closed loopback port (path kept), so that no request leaves the machine."""
    from cardcrm.calendar_sync.schemas import AccountCreateSchema
    from marshmallow import ValidationError

    url_field = AccountCreateSchema().fields["url"]

    def prepare(case: Any) -> None:
        body = case.body if isinstance(case.body, dict) else {}
        if not isinstance(body.get("url"), str):
            return
        try:
            url_field.deserialize(body["url"])
        except ValidationError:
            return  # refused before any connection
        body["url"] = f"http://127.0.0.1:{port}{urlsplit(body['url']).path}"

    return prepare


calendar_sync = schemathesis.pytest.from_fixture("calendar_schema")


@pytest.mark.slow
@calendar_sync.parametrize()
@SIDECAR_SETTINGS
def test_calendar_sync_answers_every_generated_request_as_documented(case, seeded_core, case_log):
    case_log.run("calendar sync", case, seeded_core, caldav_on_loopback(CLOSED_PORT))


# --- notifications --------------------------------------------------------------------------------


@pytest.fixture
def notifications_app(
    sidecar_database: Any, core_server: Any, seeded_core: Any, admin: Any, member: Any, tmp_path
) -> Iterator[Any]:
    """The notifications service after its worker handled the seeded events: the member's
    inbox, and deliveries (webhooks to a closed port, dead after one attempt; e-mail skipped,
    as no SMTP server is set)."""
    from cardcrm.notifications import create_app
    from cardcrm.notifications.migrate import upgrade
    from cardcrm.notifications.worker import Worker

    settings = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": sidecar_database("notifications", upgrade),
        "CORE_URL": core_server.url,
        "SERVICE_TOKEN": core_server.service_token,
        "SECRET_KEY": "notifications-fuzz-secret",
        "PUBLIC_URL": "https://crm.example.com",
        "PLUGIN_ENTRY_POINTS": False,
        "NOTIFY_PAST_EVENTS": True,
        "DELIVERY_MAX_ATTEMPTS": 1,
        "WEBHOOK_TIMEOUT_SECONDS": 1.0,
        # The webhooks go to a closed loopback port: allowed, so that deliveries are tried.
        "OUTBOUND_ALLOW": f"127.0.0.1:{CLOSED_PORT}",
    }
    app = create_app(settings)
    client = app.test_client()
    for user in (admin, member):
        saved = client.put(
            "/api/v1/preferences",
            json={
                "email": f"{user.user.id}@example.com",
                "webhook_url": f"http://127.0.0.1:{CLOSED_PORT}/hook",
                "assigned": True,
                "status_changes": True,
            },
            headers=bearer(user),
        )
        assert saved.status_code == 200, saved.get_json()
    card = admin.card({"id": 1}, "Assigned to the member")
    for number in range(1, 4):
        admin.task(card, f"2030-03-0{number}T10:00:00Z", assignee_id=member.user.id)
    admin.ok("PATCH", f"cards/{card['id']}", {"owner_id": member.user.id})
    worker = Worker(settings)
    try:
        worker.drain()
    finally:
        worker.context.close()
    inbox = client.get("/api/v1/inbox", headers=bearer(member)).get_json()["items"]
    deliveries = client.get("/api/v1/deliveries", headers=bearer(member)).get_json()["items"]
    assert inbox and {"dead", "skipped"} <= {delivery["state"] for delivery in deliveries}
    yield app
    app.extensions["cardcrm_notifications"].close()


@pytest.fixture
def notifications_schema(notifications_app: Any) -> Any:
    return load_schema(notifications_app)


notifications = schemathesis.pytest.from_fixture("notifications_schema")


@pytest.mark.slow
@notifications.parametrize()
@SIDECAR_SETTINGS
def test_notifications_answer_every_generated_request_as_documented(case, seeded_core, case_log):
    case_log.run("notifications", case, seeded_core)
