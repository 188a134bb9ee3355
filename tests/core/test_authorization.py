"""Every operation of core's API, asked by every kind of caller it must refuse.

The operations come from the API's own registry (the one the OpenAPI document is built from),
so an endpoint added later is checked without being listed here: anonymous callers and bad
tokens get 401; a service token gets 403 where a user is needed; a plain user gets 403 on
admins' operations; another user who is not a member gets 404 for whatever belongs to a
product they may not see (or 403 on admins' operations). A refused write changes nothing.
Contacts are the team's shared address book (docs/api.md): every user may read and edit them,
but a contact's cards still follow the access rule.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from cardcrm.common.api import ApiBlueprint
from cardcrm.common.db import get_db
from cardcrm.core.auth.service import create_token
from cardcrm.core.mail.service import deliver

from tests.conftest import Api

PARAMETER = re.compile(r"<int:(\w+)>")
SHARED = "/contacts/<int:contact_id>"
#: A body each write could accept, so a refusal is about the caller, not the input.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/cards/<int:card_id>"): {"title": "taken over"},
    ("PATCH", "/tasks/<int:task_id>"): {"text": "taken over"},
    ("POST", "/tasks/<int:task_id>/postpone"): {"due": "2027-01-05T10:00:00Z"},
    ("POST", "/cards/<int:card_id>/tasks"): {"due": "2027-01-05T10:00:00Z", "text": "x"},
    ("PATCH", "/contacts/<int:contact_id>"): {"name": "taken over"},
    ("PATCH", "/products/<int:product_id>"): {"name": "taken over"},
    ("PATCH", "/statuses/<int:status_id>"): {"name": "taken over"},
    ("POST", "/products/<int:product_id>/cards"): {"title": "planted"},
    ("POST", "/cards/<int:card_id>/notes"): {"body": "planted"},
    ("PATCH", "/notes/<int:note_id>"): {"body": "taken over"},
}


def operations(app: Any) -> list[Any]:
    found = []
    for blueprint in app.blueprints.values():
        if isinstance(blueprint, ApiBlueprint):
            found.extend(blueprint.operations)
    assert len(found) > 40  # the registry is where the API's operations are
    return found


@pytest.fixture
def world(app, admin, member, new_user, client):
    product = admin.product("sales")
    admin.grant(product, member)
    contact = admin.ok("POST", "contacts", {"name": "Ana"}, status=201)
    card = admin.card(product, "secret deal", contact_id=contact["id"])
    task = admin.task(card, "2027-01-04T10:00:00Z", "secret call")
    note = admin.ok("POST", f"cards/{card['id']}/notes", {"body": "secret note"}, status=201)
    upload = {"file": (io.BytesIO(b"secret terms"), "secret.txt")}
    file = admin.ok("POST", f"cards/{card['id']}/files", None, data=upload, status=201)
    favorite = admin.ok(
        "POST", "favorites", {"name": "secret list", "product_id": product["id"]}, status=201
    )
    token = admin.ok("GET", "tokens")["items"][0]
    logged_in = app.test_client()
    logged_in.get("/login")
    with logged_in.session_transaction() as flask_session:
        csrf = flask_session["csrf"]
    form = {"email": admin.user.email, "password": "password123", "csrf_token": csrf}
    assert logged_in.post("/login", data=form).status_code == 302
    web_session = admin.ok("GET", "sessions")["items"][0]
    with app.app_context():
        session = get_db().session()
        service_token, _ = create_token(session, service="calendar")
        delivery = deliver(session, [card["email_address"]], b"Subject: secret mail\n\nsecret")
        session.close()
    ids = {
        "product_id": product["id"],
        "card_id": card["id"],
        "task_id": task["id"],
        "note_id": note["id"],
        "status_id": product["statuses"][0]["id"],
        "contact_id": contact["id"],
        "favorite_id": favorite["id"],
        "token_id": token["id"],
        "session_id": web_session["id"],
        "file_id": file["id"],
        "email_id": delivery.delivered[0]["email_id"],
    }
    return {
        "ids": ids,
        "outsider": new_user("outsider@example.com"),
        "service": Api(client, service_token),
        "bad": Api(client, "ccrm_not-a-token"),
    }


def call(api: Api, operation: Any, ids: dict[str, int]) -> Any:
    path = PARAMETER.sub(lambda found: str(ids[found.group(1)]), operation.rule)
    body = BODIES.get((operation.method, operation.rule), {})
    return api.request(operation.method, "/api/v1" + path, json=body)


def snapshot(admin: Api, ids: dict[str, int]) -> list[Any]:
    return [
        admin.ok("GET", f"products/{ids['product_id']}"),
        admin.ok("GET", f"cards/{ids['card_id']}"),
        admin.ok("GET", f"cards/{ids['card_id']}/history"),
        admin.ok("GET", f"tasks/{ids['task_id']}"),
        admin.ok("GET", f"cards/{ids['card_id']}/notes"),
        admin.ok("GET", f"contacts/{ids['contact_id']}"),
        admin.ok("GET", "favorites"),
        admin.ok("GET", "tokens"),
        admin.ok("GET", "sessions"),
        admin.ok("GET", f"cards/{ids['card_id']}/files"),
    ]


def test_callers_without_a_valid_token_get_401_everywhere(app, world, anonymous):
    for operation in operations(app):
        if operation.auth is None:
            continue
        for caller in (anonymous, world["bad"]):
            response = call(caller, operation, world["ids"])
            assert response.status_code == 401, (operation.method, operation.rule)
            assert response.mimetype == "application/problem+json"


def test_a_service_token_is_refused_where_a_user_is_needed(app, world, admin):
    before = snapshot(admin, world["ids"])
    for operation in operations(app):
        if operation.auth in ("user", "admin"):
            response = call(world["service"], operation, world["ids"])
            assert response.status_code == 403, (operation.method, operation.rule)
    assert snapshot(admin, world["ids"]) == before
    assert world["service"].get("events").status_code == 200


class ActingFor(Api):
    """A service token sending ``X-Cardcrm-On-Behalf-Of`` for ``user``."""

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {**super()._headers(headers), "X-Cardcrm-On-Behalf-Of": str(self.user.id)}


def test_a_service_token_acting_for_an_admin_does_only_what_its_scopes_name(
    app, world, admin, client
):
    """Acting for a user is for what the sidecars need (the operations declaring a scope);
    every other operation, and every admins' one, answers 403 whoever the user is."""
    before = snapshot(admin, world["ids"])
    acting = ActingFor(client, world["service"].token, admin.user)
    checked = 0
    for operation in operations(app):
        if operation.auth is not None and (operation.scope is None or operation.auth == "admin"):
            response = call(acting, operation, world["ids"])
            assert response.status_code == 403, (operation.method, operation.rule)
            checked += 1
    assert checked > 40
    assert snapshot(admin, world["ids"]) == before
    assert acting.get("me").status_code == 200  # what it may do, it does


def test_a_plain_member_is_refused_admins_operations(app, world, admin, member):
    before = snapshot(admin, world["ids"])
    for operation in operations(app):
        if operation.auth in ("admin", "events"):
            response = call(member, operation, world["ids"])
            assert response.status_code == 403, (operation.method, operation.rule)
    assert snapshot(admin, world["ids"]) == before


def test_another_user_cannot_reach_what_belongs_to_a_product_they_do_not_see(app, world, admin):
    outsider, ids = world["outsider"], world["ids"]
    before = snapshot(admin, ids)
    for operation in operations(app):
        if operation.auth is None or not PARAMETER.search(operation.rule):
            continue
        if operation.rule.startswith(SHARED):
            if operation.method == "GET":
                response = call(outsider, operation, ids)
                assert response.status_code == 200, operation.rule
                assert "secret" not in response.get_data(as_text=True), operation.rule
            continue
        response = call(outsider, operation, ids)
        expected = {403} if operation.auth in ("admin", "events") else {404}
        assert response.status_code in expected, (
            operation.method,
            operation.rule,
            response.status_code,
            response.get_json(),
        )
        assert "secret" not in response.get_data(as_text=True)
    assert snapshot(admin, ids) == before
