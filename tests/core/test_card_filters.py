"""Card list filters: status, group, owner, closed, title search and custom fields, combined."""

import pytest
from cardcrm.core.cards import queries


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


def test_q_finds_the_same_cards_looked_up_or_read_in_the_lists_order(
    admin, member, board, monkeypatch
):
    """A ``q`` of three characters or more that finds few cards is looked up first and the
    list names them (``queries._found_by``); one that finds more is tested card by card in the
    list's order. Both give the same pages: the title ignoring case (not its fields), a note's
    text ignoring accents, the trash and the other filters, page after page."""
    product, statuses, cards = board
    more = [
        admin.card(product, f"Pilot {n}", owner_id=member.user.id if n % 2 else None)
        for n in range(5)
    ]
    for n, card in enumerate(more[:3]):  # some cards with an open task, some without
        admin.task(card, f"2030-01-0{n + 1}T09:00:00Z")
    # A card whose field (not its title) holds the word.
    admin.card(product, "Umbrella", fields={"contact_email": "pilot@program.example"})
    admin.ok("POST", f"cards/{cards['acme']['id']}/notes", {"body": "Ștefan asked for a PILOT"})
    admin.delete(f"cards/{more[4]['id']}")  # in the trash
    queries_asked = [
        "q=pilot",
        "q=PILOT&limit=2",
        "q=stefan",
        "q=pilot&trashed=true",
        f"q=pilot&owner_id={member.user.id}&limit=1",
        f"q=pilot&status_id={statuses['Offer sent']['id']}",
        "q=pilot&group=inactive&limit=3",
        "q=program",
        "q=nowhere",
        "q=100%25 p",
    ]

    def pages(query):
        seen, path = [], f"products/{product['id']}/cards?{query}"
        while path:
            page = admin.ok("GET", path)
            seen.append([card["title"] for card in page["items"]])
            cursor = page["next_cursor"]
            path = f"products/{product['id']}/cards?{query}&cursor={cursor}" if cursor else None
        return seen

    looked_up = {query: pages(query) for query in queries_asked}
    monkeypatch.setattr(queries, "FOUND_LISTED", 1)  # more than one card found: read in order
    assert {query: pages(query) for query in queries_asked} == looked_up
    assert looked_up["q=pilot"] == [
        ["Pilot 0", "Pilot 1", "Pilot 2", "ACME licences", "Pilot 3", "Initech 100% pilot"]
    ]  # those with a task by deadline, then the most recently changed (ACME: its note)
    assert looked_up["q=PILOT&limit=2"] == [
        ["Pilot 0", "Pilot 1"],
        ["Pilot 2", "ACME licences"],
        ["Pilot 3", "Initech 100% pilot"],
    ]
    assert looked_up["q=stefan"] == [["ACME licences"]]
    assert looked_up["q=pilot&trashed=true"] == [["Pilot 4"]]
    assert looked_up["q=program"] == looked_up["q=nowhere"] == [[]]
    assert looked_up["q=100%25 p"] == [["Initech 100% pilot"]]
