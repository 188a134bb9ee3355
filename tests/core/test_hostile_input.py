"""Input crafted to break the service gets a 4xx problem document, never a 500 or a stall
(issue 13, "Input that must never cause a 500"), and changes nothing."""

from __future__ import annotations

import pytest

from .test_bad_input import assert_problem

JSON = {"Content-Type": "application/json"}
DEEP = "[" * 100_000


def test_deeply_nested_json_is_a_400_even_before_logging_in(admin, anonymous):
    body = assert_problem(anonymous.request("POST", "auth/token", data=DEEP, headers=JSON), 400)
    assert "nested" in body["detail"]
    assert_problem(admin.request("POST", "products", data=DEEP, headers=JSON), 400)
    nested_object = '{"name": ' * 70 + '"x"' + "}" * 70
    assert_problem(admin.request("POST", "products", data=nested_object, headers=JSON), 400)
    assert admin.ok("GET", "products")["items"] == []


def test_json_nested_within_the_limit_reaches_validation(admin):
    product = admin.product()
    fields = {"title": "X", "fields": {"notes": [[[["a"]]]]}}
    response = admin.post(f"products/{product['id']}/cards", fields)
    assert_problem(response, 422, "fields.notes")


def test_a_lone_surrogate_is_a_422_naming_the_field(admin):
    response = admin.request(
        "POST", "products", data='{"name": "A\\ud800", "template": "sales"}', headers=JSON
    )
    body = assert_problem(response, 422, "name")
    assert "surrogate" in body["errors"]["name"][0]
    assert admin.ok("GET", "products")["items"] == []


@pytest.mark.parametrize("character", ["\x0b", "\x00", "\x1b", "\x7f", "\x85"])
def test_control_characters_in_any_text_field_are_a_422_naming_it(admin, character):
    product = admin.product()
    card = admin.card(product)
    response = admin.post(
        f"cards/{card['id']}/tasks", {"text": f"Call{character}Ana", "due": "2030-01-01"}
    )
    body = assert_problem(response, 422, "text")
    assert f"U+{ord(character):04X}" in body["errors"]["text"][0]
    assert admin.ok("GET", f"cards/{card['id']}/tasks")["items"] == []
    # Deep inside a value, the field is named with the path inside it.
    statuses = [
        {"name": "New", "group": "inactive"},
        {"name": f"W{character}on", "group": "positive"},
    ]
    body = assert_problem(admin.post("products", {"name": "Custom", "statuses": statuses}), 422)
    assert body["errors"] == {"statuses": [body["errors"]["statuses"][0]]}
    assert body["errors"]["statuses"][0].startswith("1.name: ")


def test_tab_and_line_breaks_are_text_a_person_types(admin):
    product = admin.product()
    card = admin.card(product, "Line one\r\nline two\tand a tab")
    assert admin.ok("GET", f"cards/{card['id']}")["title"] == "Line one\r\nline two\tand a tab"


def test_control_characters_in_a_query_are_a_422(admin):
    product = admin.product()
    body = assert_problem(admin.get(f"products/{product['id']}/cards?q=a%0Bb"), 422, "q")
    assert "U+000B" in body["errors"]["q"][0]
    assert_problem(admin.get("contacts?q=%C2%85"), 422, "q")


@pytest.mark.parametrize(
    "if_match", ["1" * 4300, "1" * 5000, '"' + "9" * 4300 + '"', '"²"', "99999999999999999999"]
)
def test_an_if_match_too_long_to_be_a_version_is_a_412(admin, if_match):
    card = admin.card(admin.product())
    response = admin.patch(f"cards/{card['id']}", {"title": "New"}, headers={"If-Match": if_match})
    assert_problem(response, 412)
    assert admin.ok("GET", f"cards/{card['id']}")["title"] == card["title"]


EDGE_DEADLINES = [
    "0001-01-01T00:30:00+05:00",
    "9999-12-31T23:30:00-05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
]


@pytest.mark.parametrize("due", EDGE_DEADLINES)
def test_deadlines_at_the_ends_of_the_calendar_are_a_422(admin, due):
    card = admin.card(admin.product())
    assert_problem(admin.post(f"cards/{card['id']}/tasks", {"text": "X", "due": due}), 422, "due")
    task = admin.task(card, "2030-01-01T09:00:00Z")
    assert_problem(admin.patch(f"tasks/{task['id']}", {"due": due}), 422, "due")
    assert_problem(admin.post(f"tasks/{task['id']}/postpone", {"due": due}), 422, "due")
    assert admin.ok("GET", f"tasks/{task['id']}")["due"] == "2030-01-01T09:00:00Z"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_all_day_deadlines_at_the_ends_of_the_calendar_are_a_422(admin, new_user, day):
    far_east = new_user("kiritimati@example.com", timezone="Pacific/Kiritimati")
    far_west = new_user("pago@example.com", timezone="Pacific/Pago_Pago")
    product = admin.product()
    card = admin.card(product)
    for assignee in (admin, far_east, far_west):
        body = {"text": "X", "due": day, "all_day": True, "assignee_id": assignee.user.id}
        assert_problem(admin.post(f"cards/{card['id']}/tasks", body), 422, "due")


def test_the_last_deadlines_of_the_calendar_still_work(admin):
    card = admin.card(admin.product())
    task = admin.task(card, "9998-12-31T12:00:00+05:00", repeat={"freq": "yearly"})
    closed = admin.ok("POST", f"tasks/{task['id']}/close", {})
    assert closed["status"] == "done"
    # The series' next occurrence would fall past the supported calendar: the series ends.
    assert [item["status"] for item in admin.ok("GET", f"cards/{card['id']}/tasks")["items"]] == [
        "done"
    ]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_today_view_at_the_ends_of_the_calendar_is_a_422(admin, day):
    assert_problem(admin.get(f"today?from={day}&to={day}"), 422)
    assert_problem(admin.get(f"today?from={day}"), 422)
    assert_problem(admin.get(f"today?to={day}"), 422)


def test_a_csv_export_with_an_owner_id_past_64_bits_is_a_422_before_any_byte(admin):
    product = admin.product()
    admin.card(product)
    for too_large in (2**63, 2**31):  # past any column, past an id's INTEGER column
        response = admin.get(f"products/{product['id']}/cards.csv?owner_id={too_large}")
        assert_problem(response, 422, "owner_id")
    # The largest id an INTEGER column holds names nobody: an empty export, whole.
    response = admin.get(f"products/{product['id']}/cards.csv?owner_id={2**31 - 1}")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("\n") == 1


def test_integers_past_64_bits_are_a_422_naming_the_field(admin):
    product = admin.product()
    assert_problem(
        admin.get(f"products/{product['id']}/cards?owner_id={-(2**63) - 1}"), 422, "owner_id"
    )
    body = {"title": "X", "owner_id": 2**64}
    assert_problem(admin.post(f"products/{product['id']}/cards", body), 422, "owner_id")
    body = {"title": "X", "owner_id": 1e30}
    assert_problem(admin.post(f"products/{product['id']}/cards", body), 422, "owner_id")
    assert admin.ok("GET", f"products/{product['id']}/cards")["items"] == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_numbers_json_does_not_have_are_a_400_and_infinite_ones_a_422(admin, number):
    product = admin.product()
    data = '{"title": "X", "fields": {"value": NUMBER}}'.replace("NUMBER", number)
    response = admin.request("POST", f"products/{product['id']}/cards", data=data, headers=JSON)
    assert_problem(response, 400)
    assert admin.ok("GET", f"products/{product['id']}/cards")["items"] == []
    data = '{"title": "X", "fields": {"value": 1e400}}'
    response = admin.request("POST", f"products/{product['id']}/cards", data=data, headers=JSON)
    assert_problem(response, 422, "fields.value")
    assert admin.ok("GET", f"products/{product['id']}/cards")["items"] == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("meeting", "9999-12-31T23:30:00-05:00"),
        ("meeting", "0001-01-01T00:30:00+05:00"),
        ("day", "0001-01-01"),
    ],
)
def test_custom_dates_at_the_ends_of_the_calendar_are_a_422(admin, key, value):
    definitions = [
        {"key": "meeting", "label": "Meeting", "type": "datetime"},
        {"key": "day", "label": "Day", "type": "date"},
    ]
    statuses = [{"name": "New", "group": "inactive"}]
    product = admin.ok(
        "POST", "products", {"name": "Custom", "statuses": statuses, "fields": definitions}
    )
    response = admin.post(f"products/{product['id']}/cards", {"title": "X", "fields": {key: value}})
    assert_problem(response, 422, f"fields.{key}")
