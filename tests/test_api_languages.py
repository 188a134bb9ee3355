"""The API's messages (problem+json ``title``, ``detail`` and field ``errors``) in the language
the client asks for (``Accept-Language``), else the token owner's profile language, else the
site's; English when nothing asks otherwise (issue 17)."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from cardcrm.common import validation_messages
from cardcrm.common.validation_messages import MARSHMALLOW_MESSAGES, translate_messages
from marshmallow import Schema, fields, validate

RO = {"Accept-Language": "ro-RO,ro;q=0.9,en;q=0.5"}


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    return body


def test_a_404_answers_in_romanian_when_the_client_asks_for_it(admin: Any) -> None:
    romanian = problem_of(admin.get("cards/424242", headers=RO), 404)
    assert romanian["title"] == "Negăsit"
    assert romanian["detail"] == "Nu există cardul 424242."
    assert admin.get("cards/424242", headers=RO).headers["Content-Language"] == "ro"

    english = problem_of(admin.get("cards/424242"), 404)
    assert english["title"] == "Not found"
    assert english["detail"] == "No card 424242."


def test_a_422_translates_marshmallows_messages_and_ours(admin: Any) -> None:
    product = admin.product()
    path = f"products/{product['id']}/cards"
    # marshmallow's own: a required field left out, a wrong type, an unknown field
    romanian = problem_of(admin.post(path, {"owner_id": "x", "colour": 1}, headers=RO), 422)
    assert romanian["title"] == "Conținut neprocesabil"
    assert romanian["detail"].startswith("Cererea are câmpuri nevalide: ")
    assert romanian["errors"]["title"] == ["Lipsesc datele pentru un câmp obligatoriu."]
    assert romanian["errors"]["owner_id"] == ["Nu este un număr întreg valid."]
    assert romanian["errors"]["colour"] == ["Câmp necunoscut."]
    # one with a value filled into marshmallow's template
    long = problem_of(admin.post(path, {"title": "x" * 1000}, headers=RO), 422)
    assert re.fullmatch(r"Lungimea trebuie să fie între 1 și \d+\.", long["errors"]["title"][0])
    # and one of cardcrm's own
    ours = problem_of(admin.post(path, {"title": "A", "owner_id": 424242}, headers=RO), 422)
    assert ours["errors"]["owner_id"] == ["Nu există utilizatorul 424242."]

    english = problem_of(admin.post(path, {"owner_id": "x", "colour": 1}), 422)
    assert english["errors"]["title"] == ["Missing data for required field."]
    assert english["errors"]["owner_id"] == ["Not a valid integer."]
    assert english["errors"]["colour"] == ["Unknown field."]


def test_a_409_and_a_401_answer_in_romanian(admin: Any, anonymous: Any) -> None:
    card = admin.card(admin.product())
    admin.ok("DELETE", f"cards/{card['id']}", status=204)
    conflict = problem_of(admin.post(f"cards/{card['id']}/notes", {"body": "Hi"}, headers=RO), 409)
    assert conflict["title"] == "Conflict"
    assert conflict["detail"] == "Cardul este în coș; restaurați-l înainte de a-l modifica."

    unauthorized = problem_of(anonymous.get("products", headers=RO), 401)
    assert unauthorized["title"] == "Neautorizat"
    assert "Trimiteți un token valid" in unauthorized["detail"]
    assert problem_of(anonymous.get("products"), 401)["title"] == "Unauthorized"


def test_the_token_owners_profile_language_answers_when_no_header_asks(admin: Any) -> None:
    admin.ok("PATCH", "me", {"language": "ro"})
    body = problem_of(admin.get("cards/424242"), 404)
    assert body["detail"] == "Nu există cardul 424242."
    assert admin.get("me").headers["Content-Language"] == "ro"
    # the header still wins over the profile
    english = admin.get("cards/424242", headers={"Accept-Language": "en"})
    assert problem_of(english, 404)["detail"] == "No card 424242."
    assert english.headers["Content-Language"] == "en"


def test_werkzeugs_own_errors_and_api_answers_say_their_language(admin: Any) -> None:
    no_route = problem_of(admin.get("no-such-thing", headers=RO), 404)
    assert no_route["title"] == "Negăsit"
    assert no_route["detail"].startswith("URL-ul cerut nu a fost găsit")
    answer = admin.get("me")
    assert answer.status_code == 200
    assert answer.headers["Content-Language"] == "en"


def test_the_openapi_document_stays_english(admin: Any) -> None:
    english = admin.get("/api/v1/openapi.json").get_data(as_text=True)
    assert admin.get("/api/v1/openapi.json", headers=RO).get_data(as_text=True) == english


def test_every_default_message_of_marshmallow_is_translated_centrally() -> None:
    """A marshmallow upgrade adding a message fails here until it is listed."""
    templates = {re.sub(r"%\((\w+)\)s", r"{\1}", message) for message in MARSHMALLOW_MESSAGES}
    found: set[str] = set()
    for module in (fields, validate):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            messages = getattr(cls, "default_error_messages", {})
            # "format" is for dumping (cardcrm's own data), never an answer to input
            found.update(text for key, text in messages.items() if key != "format")
            for attribute in ("default_message", "message_min", "message_max", "message_all"):
                value = getattr(cls, attribute, None)
                if isinstance(value, str) and "{min_op}" not in value and "{max_op}" not in value:
                    found.add(value)
            if attribute := getattr(cls, "message_equal", None):
                found.add(attribute)
    found.update(Schema._default_error_messages.values())
    # DateTime's template is listed by its values (datetime, date, time; aware, naive)
    found.discard("Not a valid {obj_type}.")
    found.discard("Not a valid {awareness} {obj_type}.")
    assert found - templates == set()


def test_translating_messages_outside_a_request_keeps_english_and_leaves_keys() -> None:
    messages = {"title": ["Length must be between 1 and 200."], "items": {"0": ["Unknown field."]}}
    assert translate_messages(messages) == messages
    assert validation_messages.translate_message("Plugin's own words.") == "Plugin's own words."


@pytest.mark.parametrize(
    ("text", "romanian"),
    [
        ("Must be one of: open, done.", "Trebuie să fie una dintre: open, done."),
        ("Not a valid integer.", "Nu este un număr întreg valid."),
        ("Out of range: dates run from 0002-01-01 to 9998-12-31.", "În afara intervalului"),
        ("Nu există cardul 3.", "Nu există cardul 3."),
    ],
)
def test_messages_translate_by_exact_text_or_by_template(
    app: Any, text: str, romanian: str
) -> None:
    with app.test_request_context("/api/v1/me", headers=RO):
        assert translate_messages({"x": [text]})["x"][0].startswith(romanian)


def test_an_import_refusal_lists_its_rows_problems_in_romanian(admin: Any) -> None:
    product = admin.product()
    response = admin.post(
        f"products/{product['id']}/cards.csv",
        data=b"title,colour\r\nA,red\r\n",
        headers={**RO, "Content-Type": "text/csv"},
    )
    body = problem_of(response, 422)
    assert body["detail"].startswith("1 rând(uri) din fișier nu pot fi importate")
    assert body["errors"][0]["line"] == 1  # numbers stay numbers
    assert body["errors"][0]["message"].startswith("Coloană necunoscută 'colour'.")


def test_an_errors_detail_is_text_in_the_language_it_is_read_in(app: Any) -> None:
    from cardcrm.common.errors import NotFound

    error = NotFound()  # no detail of its own: its title, read when it is answered
    assert error.detail == "Not found" and isinstance(error.detail, str)
    with app.test_request_context("/api/v1/me", headers=RO):
        assert error.detail == "Negăsit"
