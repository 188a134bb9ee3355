"""Global search (GET /api/v1/search): cards by title and field values, contacts by name,
e-mail and phone, case and accents ignored, and only what the caller may see."""

from __future__ import annotations

from .csv_helpers import imported, lines


def found(api, q: str, kind: str = "card", **query) -> list[str]:
    items = api.ok("GET", "search", query_string={"q": q, **query})["items"]
    return [item["title"] for item in items if item["kind"] == kind]


def test_cards_are_found_by_any_word_of_title_or_fields_ignoring_case_and_accents(admin):
    sales = admin.product("sales")
    admin.card(sales, "Ștefan SRL – renewal", fields={"source": "Referral"})
    admin.card(sales, "ACME website", fields={"contact_email": "buyer@acme.example"})
    admin.card(sales, "Other deal")

    assert found(admin, "stefan") == ["Ștefan SRL – renewal"]
    assert found(admin, "ȘTEFAN renewal") == ["Ștefan SRL – renewal"]  # every word, any case
    assert found(admin, "stefan website") == []
    assert found(admin, "referral") == ["Ștefan SRL – renewal"]  # a field's value
    assert found(admin, "buyer@acme") == ["ACME website"]
    assert found(admin, "100%") == []  # LIKE's wildcards are plain characters
    hit = admin.ok("GET", "search", query_string={"q": "acme"})["items"][0]
    assert hit["kind"] == "card" and hit["url"] == f"/cards/{hit['id']}"
    assert hit["product"] == {"id": sales["id"], "name": sales["name"]}
    assert hit["detail"] == sales["statuses"][0]["name"]


def test_cards_are_found_by_the_words_of_their_notes(admin, member):
    sales = admin.product("sales")
    admin.grant(sales, member, own_cards_only=True)
    theirs = admin.card(sales, "Admin's deal", owner_id=admin.user.id)
    mine = admin.card(sales, "Member's deal", owner_id=member.user.id)
    admin.ok("POST", f"cards/{theirs['id']}/notes", {"body": "Call **Mădălina** about the budget"})
    admin.ok("POST", f"cards/{mine['id']}/notes", {"body": "Mădălina signs on Friday"})

    assert sorted(found(admin, "madalina")) == ["Admin's deal", "Member's deal"]
    assert found(admin, "madalina budget") == ["Admin's deal"]  # words from title and notes
    assert found(member, "madalina") == ["Member's deal"]  # the access rule holds for notes


def test_an_edited_or_imported_card_is_found_by_its_new_words(admin):
    sales = admin.product("sales")
    card = admin.card(sales, "Draft")
    admin.ok(
        "PATCH",
        f"cards/{card['id']}",
        {"title": "Brașov office", "fields": {"source": "Trade fair"}},
    )
    assert found(admin, "brasov fair") == ["Brașov office"]
    assert found(admin, "draft") == []

    path = f"products/{sales['id']}/cards.csv"
    imported(admin, path, lines("title,field:contact_email", "Cluj-Napoca lead,office@ziarul.ro"))
    assert found(admin, "ziarul") == ["Cluj-Napoca lead"]
    new_id = next(
        c["id"]
        for c in admin.ok("GET", f"{path[:-4]}")["items"]
        if c["title"] == "Cluj-Napoca lead"
    )
    imported(admin, path, lines("id,title", f"{new_id},Timișoara lead"))
    assert found(admin, "timisoara") == ["Timișoara lead"]


def test_search_keeps_to_what_the_caller_may_see(admin, member, new_user):
    sales = admin.product("sales")
    admin.grant(sales, member, own_cards_only=True)
    admin.card(sales, "Deal of the admin", owner_id=admin.user.id)
    admin.card(sales, "Deal of the member", owner_id=member.user.id)
    admin.card(sales, "Deal of nobody")
    trashed = admin.card(sales, "Deal in the trash")
    admin.ok("DELETE", f"cards/{trashed['id']}", status=204)
    stranger = new_user("stranger@example.com")

    assert sorted(found(admin, "deal")) == [
        "Deal of nobody",
        "Deal of the admin",
        "Deal of the member",
    ]
    assert sorted(found(member, "deal")) == ["Deal of nobody", "Deal of the member"]
    assert found(stranger, "deal") == []


def test_contacts_and_companies_are_found_by_name_email_and_phone(admin):
    admin.ok(
        "POST",
        "contacts",
        {"name": "Ioana Mureșan", "emails": ["ioana@example.ro"], "phones": ["+40 721 000 111"]},
    )
    admin.ok("POST", "contacts", {"name": "Mureș Trans SRL", "kind": "company"})

    assert sorted(found(admin, "mures", "contact")) == ["Ioana Mureșan", "Mureș Trans SRL"]
    assert found(admin, "ioana@example", "contact") == ["Ioana Mureșan"]
    assert found(admin, "0721 000 111", "contact") == ["Ioana Mureșan"]
    company = [i for i in admin.ok("GET", "search", query_string={"q": "trans"})["items"]]
    assert company[0]["detail"].startswith("company") and company[0]["url"].startswith("/contacts/")


def test_a_search_needs_words_and_bounds_its_answer(admin):
    for query in ({}, {"q": ""}, {"q": "x" * 201}, {"q": "a", "limit": 0}, {"q": "a", "limit": 51}):
        response = admin.get("search", query_string=query)
        assert response.status_code == 422, query
        assert response.mimetype == "application/problem+json"
    sales = admin.product("sales")
    for number in range(4):
        admin.card(sales, f"Same words {number}")
    assert len(found(admin, "same words", limit=3)) == 3
    assert found(admin, "   ") == []


def test_the_newest_visible_cards_come_first_past_the_first_look(admin, member, monkeypatch):
    from cardcrm.core.search import service

    # The first look reads only the RECENT newest cards; made tiny, a member limited to own
    # cards (and a trashed card among the newest) sends the search on to the full scan.
    monkeypatch.setattr(service, "RECENT", 3)
    sales = admin.product("sales")
    admin.grant(sales, member, own_cards_only=True)
    made = [
        admin.card(sales, f"Lead {n}", owner_id=(member if n % 2 else admin).user.id)
        for n in range(8)
    ]
    admin.ok("DELETE", f"cards/{made[7]['id']}", status=204)

    assert found(admin, "lead", limit=2) == ["Lead 6", "Lead 5"]  # the first look suffices
    assert found(admin, "lead", limit=4) == ["Lead 6", "Lead 5", "Lead 4", "Lead 3"]
    assert found(member, "lead", limit=3) == ["Lead 5", "Lead 3", "Lead 1"]
    assert found(member, "lead 3") == ["Lead 3"]
