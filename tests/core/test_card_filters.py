"""Card list filters: status, group, owner, closed, title search and custom fields, combined."""

import pytest


@pytest.fixture
def board(admin, member):
    product = admin.product("sales")
    statuses = {status["name"]: status for status in product["statuses"]}
    cards = {
        "acme": admin.card(
            product,
            "ACME licences",
            owner_id=admin.user.id,
            fields={"value": 1200, "source": "Referral", "contact_email": "Ana@Acme.example"},
        ),
        "globex": admin.card(
            product,
            "Globex renewal",
            owner_id=member.user.id,
            fields={"value": "300.5", "source": "Website"},
        ),
        "initech": admin.card(
            product, "Initech 100% pilot", owner_id=member.user.id, fields={"source": "Referral"}
        ),
    }
    admin.ok("PATCH", f"cards/{cards['globex']['id']}", {"status_id": statuses["Won"]["id"]})
    admin.ok(
        "PATCH", f"cards/{cards['initech']['id']}", {"status_id": statuses["Offer sent"]["id"]}
    )
    return product, statuses, cards


def names(api, product, query):
    return sorted(
        card["title"] for card in api.ok("GET", f"products/{product['id']}/cards?{query}")["items"]
    )


def test_filter_by_status_group_owner_and_closed(admin, member, board):
    product, statuses, _ = board
    assert names(admin, product, f"status_id={statuses['Won']['id']}") == ["Globex renewal"]
    assert names(admin, product, "group=in_progress") == ["Initech 100% pilot"]
    assert names(admin, product, "group=inactive") == ["ACME licences"]
    assert names(admin, product, f"owner_id={member.user.id}") == [
        "Globex renewal",
        "Initech 100% pilot",
    ]
    assert names(admin, product, "closed=true") == ["Globex renewal"]
    assert names(admin, product, "closed=false") == ["ACME licences", "Initech 100% pilot"]


def test_title_search_ignores_case_and_treats_wildcards_literally(admin, board):
    product = board[0]
    assert names(admin, product, "q=acme") == ["ACME licences"]
    assert names(admin, product, "q=100%25") == ["Initech 100% pilot"]
    assert names(admin, product, "q=%25") == ["Initech 100% pilot"]
    assert names(admin, product, "q=_") == []


def test_custom_field_filters_match_by_type(admin, board):
    product = board[0]
    assert names(admin, product, "field.source=Referral") == ["ACME licences", "Initech 100% pilot"]
    assert names(admin, product, "field.value=1200") == ["ACME licences"]
    assert names(admin, product, "field.value=300.50") == ["Globex renewal"]
    assert names(admin, product, "field.contact_email=ana@acme.example") == ["ACME licences"]


def test_filters_combine(admin, member, board):
    product = board[0]
    query = f"field.source=Referral&owner_id={member.user.id}&closed=false&q=pilot"
    assert names(admin, product, query) == ["Initech 100% pilot"]
    assert names(admin, product, "field.source=Referral&group=positive") == []


def test_filtering_on_an_unknown_field_or_a_bad_value_is_a_422(admin, board):
    product = board[0]
    response = admin.get(f"products/{product['id']}/cards?field.colour=red")
    assert response.status_code == 422 and "field.colour" in response.get_json()["errors"]
    response = admin.get(f"products/{product['id']}/cards?field.value=lots")
    assert response.status_code == 422
    response = admin.get(f"products/{product['id']}/cards?group=limbo")
    assert response.status_code == 422


def test_multiple_choice_and_checkbox_fields_filter(admin):
    product = admin.product("recruiting")
    admin.card(product, "Ana", fields={"position": "Dev", "skills": ["Python", "SQL"]})
    admin.card(product, "Bob", fields={"position": "Dev", "skills": ["JavaScript"]})
    assert names(admin, product, "field.skills=SQL") == ["Ana"]
    projects = admin.product("projects")
    admin.card(projects, "Remote one", fields={"remote": True})
    admin.card(projects, "Office one", fields={"remote": False})
    assert names(admin, projects, "field.remote=true") == ["Remote one"]
    assert names(admin, projects, "field.remote=false") == ["Office one"]
