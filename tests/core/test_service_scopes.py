"""Service tokens carry scopes (``cardcrm.core.auth.scopes``): a sidecar's token reads the
event feed and acts for a user only in what the sidecars do; nothing else, and never what only
admins may, whoever it acts for."""

from __future__ import annotations

from datetime import date

import pytest
from cardcrm.common.db import get_db
from cardcrm.core.auth.scopes import SIDECAR_SCOPES
from cardcrm.core.auth.service import create_token

from tests.conftest import Api

ACT_FOR = "X-Cardcrm-On-Behalf-Of"
#: A January always ahead: the tasks' deadlines in it are due (not overdue) whatever today is.
YEAR = date.today().year + 1


class Service(Api):
    """A service token, acting for ``user_id`` when given."""

    def __init__(self, client, token, user_id=None):
        super().__init__(client, token)
        self.user_id = user_id

    def _headers(self, headers):
        result = super()._headers(headers)
        if self.user_id is not None:
            result[ACT_FOR] = str(self.user_id)
        return result

    def acting_for(self, person: Api) -> Service:
        return Service(self.client, self.token, person.user.id)


@pytest.fixture
def service_token(app):
    def make(scopes=None) -> str:
        with app.app_context():
            session = get_db().session()
            token, _ = create_token(session, service="sidecars", scopes=scopes)
            session.close()
        return token

    return make


@pytest.fixture
def world(admin, member):
    product = admin.product("sales")
    admin.grant(product, member)
    card = admin.card(product, "ACME", owner_id=member.user.id)
    tasks = [
        admin.task(card, f"{YEAR}-01-0{day}T10:00:00Z", f"Call {day}", assignee_id=member.user.id)
        for day in (4, 5, 6, 7)
    ]
    return product, card, tasks


def test_a_sidecar_token_does_what_the_sidecars_need_for_a_user(
    client, member, service_token, world
):
    product, _, (read, postponed, edited, closed) = world
    sidecar = Service(client, service_token()).acting_for(member)

    assert sidecar.ok("GET", "me")["id"] == member.user.id
    assert sidecar.ok("GET", f"tasks/{read['id']}")["text"] == "Call 4"
    assert sidecar.ok("GET", f"products/{product['id']}")["id"] == product["id"]
    assert sidecar.ok("GET", f"today?from={YEAR}-01-01&to={YEAR}-01-31")["totals"]["due"] == 4
    sidecar.ok("POST", f"tasks/{postponed['id']}/postpone", {"due": f"{YEAR}-02-01T10:00:00Z"})
    sidecar.ok("PATCH", f"tasks/{edited['id']}", {"due": f"{YEAR}-02-02T10:00:00Z"})
    assert sidecar.ok("POST", f"tasks/{closed['id']}/close", {})["status"] == "done"
    # What a calendar app's writes through the CalDAV server need (calendar_sync/dav):
    assert sidecar.ok("POST", f"tasks/{closed['id']}/reopen")["status"] == "open"
    assert [item["id"] for item in sidecar.ok("GET", "products")["items"]] == [product["id"]]
    inbox = sidecar.ok("POST", f"products/{product['id']}/cards", {"title": "Inbox"}, status=201)
    added = sidecar.ok(
        "POST",
        f"cards/{inbox['id']}/tasks",
        {"text": "New", "due": f"{YEAR}-02-03", "all_day": True},
    )
    assert added["assignee_id"] == member.user.id
    note = sidecar.ok("POST", f"cards/{inbox['id']}/notes", {"body": "Blue ones"}, status=201)
    assert sidecar.ok("PATCH", f"notes/{note['id']}", {"body": "Red ones"})["body"] == "Red ones"
    conflict = {"source": "caldav", "losing": {"text": "Call them"}, "winning": {}}
    assert sidecar.post(f"tasks/{read['id']}/sync-conflicts", conflict).status_code == 204
    feed = Service(client, sidecar.token)
    assert feed.ok("GET", "events?after=0")["items"]
    assert feed.post(f"tasks/{read['id']}/sync-conflicts", conflict).status_code == 204


def test_a_sidecar_token_does_nothing_else_for_a_user(client, admin, member, service_token, world):
    product, card, (task, *_) = world
    sidecar = Service(client, service_token()).acting_for(member)
    refused = [
        ("GET", f"cards/{card['id']}", None),
        ("PATCH", f"cards/{card['id']}", {"title": "taken over"}),
        ("DELETE", f"cards/{card['id']}", None),
        ("DELETE", f"tasks/{task['id']}", None),
        ("GET", f"cards/{card['id']}/notes", None),
        ("PATCH", "me", {"name": "Mallory"}),
        ("POST", "tokens", {}),
        ("GET", "tokens", None),
        ("GET", "sessions", None),
        ("GET", "users", None),
        ("GET", "contacts", None),
    ]
    for method, path, body in refused:
        answer = sidecar.request(method, path, json=body)
        assert answer.status_code == 403, (method, path, answer.get_json())
        assert "service token" in answer.get_json()["detail"]
    assert admin.ok("GET", f"cards/{card['id']}")["title"] == "ACME"
    assert [item["name"] for item in admin.ok("GET", "users")["items"]] == ["Admin", "Member"]


def test_a_sidecar_token_acting_for_an_admin_is_no_admin(client, admin, service_token, world):
    product, *_ = world
    as_admin = Service(client, service_token()).acting_for(admin)
    assert as_admin.ok("GET", "me")["is_admin"] is True  # it reads the admin's profile...
    new_user = {"email": "mallory@example.com", "name": "Mallory", "password": "long-enough"}
    for method, path, body in [
        ("POST", "users", new_user),
        ("PUT", f"products/{product['id']}/members", {"items": []}),
        ("DELETE", f"products/{product['id']}", None),
        ("PATCH", f"products/{product['id']}", {"name": "taken over"}),
    ]:
        assert as_admin.request(method, path, json=body).status_code == 403, (method, path)
    assert admin.ok("GET", f"products/{product['id']}/members")["items"]
    assert len(admin.ok("GET", "users")["items"]) == 2


def test_a_token_does_only_what_its_scopes_name(client, member, service_token, world):
    _, _, (task, *_) = world
    feed_only = Service(client, service_token(["events:read"]))
    assert feed_only.get("events?after=0").status_code == 200
    refused = feed_only.acting_for(member).get(f"tasks/{task['id']}")
    assert refused.status_code == 403
    assert "tasks:read" in refused.get_json()["detail"]

    reader = Service(client, service_token(["tasks:read"]))
    assert reader.get("events?after=0").status_code == 403  # the feed needs its scope too
    assert reader.acting_for(member).get(f"tasks/{task['id']}").status_code == 200
    closing = reader.acting_for(member).post(f"tasks/{task['id']}/close", {})
    assert closing.status_code == 403
    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "open"


def test_a_new_service_token_gets_the_sidecars_scopes(app):
    with app.app_context():
        session = get_db().session()
        _, row = create_token(session, service="notifications")
        session.close()
    assert tuple(row.scopes) == SIDECAR_SCOPES
    assert set(SIDECAR_SCOPES) == {
        "events:read",
        "users:read",
        "products:read",
        "tasks:read",
        "tasks:write",
        "cards:create",
        "notes:write",
        "tasks:sync-conflicts",
        "today:read",
    }


def test_the_openapi_document_names_each_operations_service_scope(anonymous):
    paths = anonymous.get("openapi.json").get_json()["paths"]
    assert paths["/api/v1/events"]["get"]["x-service-scope"] == "events:read"
    assert paths["/api/v1/tasks/{task_id}/close"]["post"]["x-service-scope"] == "tasks:write"
    assert "x-service-scope" not in paths["/api/v1/cards/{card_id}"]["get"]


@pytest.mark.parametrize("named", ["²", "٣", "9" * 5000, str(2**31), str(2**64)])
def test_an_acting_for_header_that_is_no_user_id_is_a_401_not_a_500(client, service_token, named):
    # A Unicode digit is a digit to str.isdigit but no number to int; 4,300 digits are past
    # what int converts; an id past 32 bits names no user (and PostgreSQL refuses to compare).
    answer = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {service_token()}", ACT_FOR: named}
    )
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert ACT_FOR in answer.get_json()["detail"]
