"""Bad input gets a clear 4xx problem document and changes nothing (API.md, Conventions)."""

import pytest

PROBLEM = "application/problem+json"


def assert_problem(response, status, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    if field is not None:
        assert field in body["errors"], body
    return body


def test_malformed_json_is_a_400(admin):
    response = admin.request(
        "POST", "products", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400)
    assert admin.ok("GET", "products")["items"] == []


def test_a_body_over_one_mebibyte_is_a_413(admin):
    response = admin.request(
        "POST",
        "products",
        data='{"name": "' + "x" * (1024 * 1024 + 10) + '"}',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 413)


def test_unknown_fields_are_named_in_a_422(admin):
    body = assert_problem(
        admin.post("products", {"name": "X", "template": "sales", "colour": "red"}), 422, "colour"
    )
    assert "colour" in body["detail"]


def test_wrong_types_are_named_in_a_422(admin):
    assert_problem(admin.post("products", {"name": 42, "template": "sales"}), 422, "name")
    product = admin.product()
    assert_problem(admin.post(f"products/{product['id']}/cards", {"title": ["a"]}), 422, "title")


def test_a_json_body_that_is_not_an_object_is_a_422(admin):
    assert_problem(admin.post("products", ["a list"]), 422)


def test_an_unknown_status_group_is_a_422(admin):
    body = {"name": "Custom", "statuses": [{"name": "New", "group": "limbo"}]}
    assert_problem(admin.post("products", body), 422, "statuses")
    product = admin.product()
    assert_problem(
        admin.post(f"products/{product['id']}/statuses", {"name": "Odd", "group": "done"}),
        422,
        "group",
    )


def test_a_status_of_another_product_is_a_422(admin):
    sales, invoices = admin.product("sales"), admin.product("invoices")
    foreign = invoices["statuses"][0]["id"]
    assert_problem(
        admin.post(f"products/{sales['id']}/cards", {"title": "X", "status_id": foreign}),
        422,
        "status_id",
    )
    card = admin.card(sales)
    assert_problem(admin.patch(f"cards/{card['id']}", {"status_id": foreign}), 422, "status_id")
    assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == card["status_id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("value", "a lot"),
        ("value", True),
        ("expected_close", "31/12/2026"),
        ("contact_email", "not-an-email"),
        ("source", "Carrier pigeon"),
        ("contact_phone", "call me"),
    ],
)
def test_a_field_value_that_does_not_fit_its_definition_is_a_422(admin, field, value):
    product = admin.product("sales")
    response = admin.post(
        f"products/{product['id']}/cards", {"title": "X", "fields": {field: value}}
    )
    assert_problem(response, 422, f"fields.{field}")
    assert admin.ok("GET", f"products/{product['id']}/cards")["items"] == []


def test_a_field_the_product_does_not_have_is_a_422(admin):
    product = admin.product("sales")
    response = admin.post(f"products/{product['id']}/cards", {"title": "X", "fields": {"nope": 1}})
    assert_problem(response, 422, "fields.nope")


@pytest.mark.parametrize(
    "due", ["tomorrow", "2026-11-27T09:30:00", "2026-13-01T09:30:00Z", "27.11.2026 09:30", 1234]
)
def test_a_due_that_is_not_rfc3339_is_a_422(admin, due):
    card = admin.card(admin.product())
    assert_problem(
        admin.post(f"cards/{card['id']}/tasks", {"text": "Call", "due": due}), 422, "due"
    )
    assert admin.ok("GET", f"cards/{card['id']}/tasks")["items"] == []


def test_an_unknown_time_zone_is_a_422(admin):
    body = {
        "email": "tz@example.com",
        "name": "Tz",
        "password": "password123",
        "timezone": "Mars/Olympus",
    }
    assert_problem(admin.post("users", body), 422, "timezone")
    assert_problem(admin.patch("me", {"timezone": "Europe/Atlantis"}), 422, "timezone")


def test_no_or_bad_token_is_a_401(anonymous, client):
    assert_problem(anonymous.get("products"), 401)
    response = client.get("/api/v1/products", headers={"Authorization": "Bearer nope"})
    assert_problem(response, 401)
    response = client.get("/api/v1/products", headers={"Authorization": "Basic abc"})
    assert_problem(response, 401)


def test_wrong_password_is_a_401(admin, anonymous):
    response = anonymous.post(
        "auth/token", {"email": "admin@example.com", "password": "wrong-password"}
    )
    assert_problem(response, 401)


def test_a_non_admin_creating_users_is_a_403(member):
    body = {"email": "new@example.com", "name": "New", "password": "password123"}
    assert_problem(member.post("users", body), 403)
    emails = [user["email"] for user in member.ok("GET", "users")["items"]]
    assert "new@example.com" not in emails


def test_deleting_a_product_with_cards_needs_force(admin):
    product = admin.product()
    admin.card(product)
    body = assert_problem(admin.delete(f"products/{product['id']}"), 409)
    assert "force" in body["detail"]
    admin.ok("GET", f"products/{product['id']}")
    assert admin.delete(f"products/{product['id']}?force=true").status_code == 204
    assert_problem(admin.get(f"products/{product['id']}"), 404)


def test_deleting_a_used_status_needs_move_to(admin):
    product = admin.product()
    first, second = product["statuses"][0], product["statuses"][1]
    card = admin.card(product)
    assert_problem(admin.delete(f"statuses/{first['id']}"), 409)
    assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == first["id"]
    assert admin.delete(f"statuses/{first['id']}?move_to={second['id']}").status_code == 204
    assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == second["id"]
    statuses = admin.ok("GET", f"products/{product['id']}")["statuses"]
    assert first["id"] not in [status["id"] for status in statuses]


def test_a_bad_cursor_or_limit_is_a_422(admin):
    product = admin.product()
    assert_problem(admin.get(f"products/{product['id']}/cards?cursor=!!!"), 422, "cursor")
    assert_problem(admin.get(f"products/{product['id']}/cards?limit=501"), 422, "limit")
    assert_problem(admin.get(f"products/{product['id']}/cards?limit=abc"), 422, "limit")


def test_unknown_paths_and_methods_are_problems(admin):
    assert_problem(admin.get("nothing-here"), 404)
    assert_problem(admin.put("products"), 405)
    assert_problem(admin.get("cards/999999"), 404)
    assert_problem(admin.get("tasks/999999"), 404)
