"""Contacts: people and companies, search, duplicates, merging, and their cards."""

import pytest


@pytest.fixture
def acme(admin):
    return admin.ok(
        "POST",
        "contacts",
        {
            "kind": "company",
            "name": "ACME SRL",
            "registration_number": "J40/123/2020",
            "address": "Str. Lungă 1, București",
            "website": "https://acme.example",
        },
        status=201,
    )


@pytest.fixture
def stefan(admin, acme):
    return admin.ok(
        "POST",
        "contacts",
        {
            "name": "Ștefan Ionescu",
            "emails": ["Stefan@Acme.example"],
            "phones": ["+40 721 000 111"],
            "company_id": acme["id"],
            "position": "CTO",
            "notes": "Prefers calls",
        },
        status=201,
    )


def names(api, query):
    return [contact["name"] for contact in api.ok("GET", f"contacts?{query}")["items"]]


def test_search_ignores_case_and_accents_and_finds_by_email_and_phone(admin, stefan, acme):
    assert names(admin, "q=stefan") == ["Ștefan Ionescu"]
    assert names(admin, "q=IONESCU ștef") == ["Ștefan Ionescu"]
    assert names(admin, "q=stefan@acme") == ["Ștefan Ionescu"]
    assert names(admin, "q=0721 000 111") == ["Ștefan Ionescu"]
    assert names(admin, "q=bucur") == []
    assert names(admin, "kind=company") == ["ACME SRL"]
    assert names(admin, "q=acme&kind=person") == ["Ștefan Ionescu"]  # by e-mail


def test_a_duplicate_email_or_phone_is_a_409_unless_the_client_insists(admin, stefan):
    response = admin.post("contacts", {"name": "S. Ionescu", "emails": ["stefan@acme.EXAMPLE"]})
    assert response.status_code == 409
    assert response.get_json()["existing_id"] == stefan["id"]
    response = admin.post("contacts", {"name": "Someone", "phones": ["0040-721-000-111"]})
    assert response.status_code == 409
    assert len(names(admin, "kind=person")) == 1
    created = admin.ok(
        "POST",
        "contacts?allow_duplicate=true",
        {"name": "S. Ionescu", "emails": ["stefan@acme.example"]},
        status=201,
    )
    assert created["id"] != stefan["id"]


def test_bad_contacts_are_refused(admin, stefan):
    for body in (
        {"name": ""},
        {"name": "X", "emails": ["not-an-email"]},
        {"name": "X", "phones": ["call me"]},
        {"name": "X", "kind": "robot"},
        {"name": "X", "company_id": stefan["id"]},  # a person is no company
        {"name": "X", "website": "ftp://x.example"},
        {"kind": "company", "name": "Y", "position": "CEO"},
    ):
        assert admin.post("contacts", body).status_code == 422, body


def test_a_contact_has_its_own_history(admin, stefan):
    admin.ok("PATCH", f"contacts/{stefan['id']}", {"position": "CEO"})
    rows = admin.ok("GET", f"contacts/{stefan['id']}/history")["items"]
    assert [row["type"] for row in rows] == ["contact.created", "contact.updated"]
    assert rows[1]["data"]["changes"]["position"] == {"before": "CTO", "after": "CEO"}
    stale = admin.patch(
        f"contacts/{stefan['id']}", {"name": "x"}, headers={"If-Match": f'"{stefan["version"]}"'}
    )
    assert stale.status_code == 412


def test_cards_take_a_primary_contact_and_others_and_the_contact_lists_them_by_product(
    admin, stefan, acme
):
    sales, recruiting = admin.product("sales"), admin.product("recruiting")
    deal = admin.card(sales, "ACME deal", contact_id=acme["id"], contact_ids=[stefan["id"]])
    assert (deal["contact_id"], deal["contact_ids"]) == (acme["id"], [stefan["id"]])
    hire = admin.card(
        recruiting, "Hire via Ștefan", contact_id=stefan["id"], fields={"position": "Dev"}
    )
    grouped = admin.ok("GET", f"contacts/{stefan['id']}/cards")["items"]
    assert [
        (group["product"]["id"], [card["title"] for card in group["cards"]]) for group in grouped
    ] == [
        (sales["id"], ["ACME deal"]),
        (recruiting["id"], ["Hire via Ștefan"]),
    ]
    moved = admin.ok("PATCH", f"cards/{deal['id']}", {"contact_ids": []})
    assert moved["contact_ids"] == []
    assert (
        admin.post(f"products/{sales['id']}/cards", {"title": "x", "contact_id": 999}).status_code
        == 422
    )
    kinds = [row["type"] for row in admin.ok("GET", f"cards/{hire['id']}/history")["items"]]
    assert kinds == ["card.created"]


def test_merging_two_contacts_keeps_every_card_history_row_and_value(admin, stefan):
    twin = admin.ok(
        "POST",
        "contacts?allow_duplicate=true",
        {
            "name": "Stefan I.",
            "emails": ["s.ionescu@home.example"],
            "phones": ["+40 721 000 111"],
            "position": "Founder",
            "notes": None,
            "fields": {"linkedin": "stefan-i"},
        },
        status=201,
    )
    admin.ok("PATCH", f"contacts/{twin['id']}", {"notes": "Met at the fair"})
    product = admin.product("sales")
    first = admin.card(product, "Deal 1", contact_id=twin["id"])
    second = admin.card(product, "Deal 2", contact_ids=[twin["id"], stefan["id"]])
    merged = admin.ok("POST", f"contacts/{stefan['id']}/merge", {"other_id": twin["id"]})
    assert merged["emails"] == ["Stefan@Acme.example", "s.ionescu@home.example"]
    assert merged["phones"] == ["+40 721 000 111"]
    assert merged["position"] == "CTO" and merged["notes"] == "Prefers calls"
    assert merged["fields"] == {"linkedin": "stefan-i"}
    assert admin.get(f"contacts/{twin['id']}").status_code == 404
    assert admin.ok("GET", f"cards/{first['id']}")["contact_id"] == stefan["id"]
    assert admin.ok("GET", f"cards/{second['id']}")["contact_ids"] == [stefan["id"]]
    history = admin.ok("GET", f"contacts/{stefan['id']}/history")["items"]
    kinds = [row["type"] for row in history]
    assert kinds.count("contact.created") == 2 and "contact.updated" in kinds
    merge = history[-1]
    assert merge["type"] == "contact.merged"
    assert merge["data"]["conflicts"]["position"] == "Founder"
    assert merge["data"]["conflicts"]["notes"] == "Met at the fair"
    assert merge["data"]["other"]["name"] == "Stefan I."
    assert (
        admin.post(f"contacts/{stefan['id']}/merge", {"other_id": stefan["id"]}).status_code == 422
    )


def test_deleting_a_contact_on_cards_needs_force(admin, stefan):
    card = admin.card(admin.product("sales"), "Deal", contact_id=stefan["id"])
    assert admin.delete(f"contacts/{stefan['id']}").status_code == 409
    assert admin.delete(f"contacts/{stefan['id']}?force=true").status_code == 204
    assert admin.ok("GET", f"cards/{card['id']}")["contact_id"] is None
    kinds = [row["type"] for row in admin.ok("GET", f"cards/{card['id']}/history")["items"]]
    assert kinds[-1] == "card.contact_removed"


# --- Who may delete and merge --------------------------------------------------------------------


def test_any_user_may_create_and_edit_a_contact_but_only_its_creator_or_an_admin_deletes_it(
    admin, member, new_user
):
    ana = member.ok("POST", "contacts", {"name": "Ana Pop"}, status=201)
    bob = new_user("bob@example.com")
    bob.ok("PATCH", f"contacts/{ana['id']}", {"position": "Buyer"})

    refused = bob.delete(f"contacts/{ana['id']}")
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert "created the contact" in refused.get_json()["detail"]
    assert admin.ok("GET", f"contacts/{ana['id']}")["position"] == "Buyer"

    assert member.delete(f"contacts/{ana['id']}").status_code == 204
    other = member.ok("POST", "contacts", {"name": "Dan Pop"}, status=201)
    assert admin.delete(f"contacts/{other['id']}").status_code == 204


def test_a_merge_needs_the_right_on_both_contacts(admin, member, new_user):
    mine = member.ok("POST", "contacts", {"name": "Ana Pop"}, status=201)
    also_mine = member.ok(
        "POST", "contacts", {"name": "Ana P.", "emails": ["ana@example.com"]}, status=201
    )
    theirs = admin.ok("POST", "contacts", {"name": "Ana Popa"}, status=201)

    for kept, folded in ((mine, theirs), (theirs, mine)):
        answer = member.post(f"contacts/{kept['id']}/merge", {"other_id": folded["id"]})
        assert answer.status_code == 403, (kept["name"], folded["name"])
    assert admin.ok("GET", f"contacts/{theirs['id']}")["name"] == "Ana Popa"

    merged = member.ok("POST", f"contacts/{mine['id']}/merge", {"other_id": also_mine["id"]})
    assert merged["emails"] == ["ana@example.com"]
    assert (
        new_user("bob@example.com")
        .post(f"contacts/{mine['id']}/merge", {"other_id": theirs["id"]})
        .status_code
        == 403
    )
    admin.ok("POST", f"contacts/{theirs['id']}/merge", {"other_id": mine["id"]})


def test_the_creator_stays_the_creator_after_another_contact_is_merged_in(admin, member):
    """The merge brings the other contact's "created" row along; it does not make its author
    the creator of the contact kept."""
    older = admin.ok("POST", "contacts", {"name": "Ana Pop"}, status=201)
    kept = member.ok("POST", "contacts", {"name": "Ana P."}, status=201)
    admin.ok("POST", f"contacts/{kept['id']}/merge", {"other_id": older["id"]})
    assert member.delete(f"contacts/{kept['id']}").status_code == 204


def test_a_forced_delete_never_touches_cards_out_of_the_callers_sight(admin, member):
    shared = admin.product("sales", name="Shared")
    secret = admin.product("sales", name="Secret")
    admin.grant(shared, member)
    ana = member.ok("POST", "contacts", {"name": "Ana Pop"}, status=201)
    seen = member.card(shared, "Seen deal", contact_id=ana["id"])
    hidden = [admin.card(secret, f"Hidden deal {n}", contact_id=ana["id"]) for n in range(3)]

    for path in (f"contacts/{ana['id']}", f"contacts/{ana['id']}?force=true"):
        refused = member.delete(path)
        assert refused.status_code == 409, path
        problem = refused.get_json()
        assert "linked to cards you cannot see" in problem["detail"]
        assert "cards" not in problem
        assert not any(character.isdigit() for character in problem["detail"])
    for card in hidden:
        assert admin.ok("GET", f"cards/{card['id']}")["contact_id"] == ana["id"]
        kinds = [row["type"] for row in admin.ok("GET", f"cards/{card['id']}/history")["items"]]
        assert "card.contact_removed" not in kinds
    assert admin.ok("GET", f"cards/{seen['id']}")["contact_id"] == ana["id"]

    assert admin.delete(f"contacts/{ana['id']}?force=true").status_code == 204
    assert admin.ok("GET", f"cards/{hidden[0]['id']}")["contact_id"] is None


def test_the_409_counts_only_cards_the_caller_sees(admin, member):
    shared = admin.product("sales", name="Shared")
    admin.grant(shared, member)
    ana = member.ok("POST", "contacts", {"name": "Ana Pop"}, status=201)
    member.card(shared, "One", contact_id=ana["id"])
    member.card(shared, "Two", contact_ids=[ana["id"]])

    problem = member.delete(f"contacts/{ana['id']}").get_json()
    assert problem["status"] == 409 and problem["cards"] == 2
    assert "on 2 card(s)" in problem["detail"]


def test_an_own_cards_only_member_cannot_delete_a_contact_on_a_colleagues_card(
    admin, member, new_user
):
    product = admin.product("sales", name="Team")
    colleague = new_user("colleague@example.com")
    admin.grant(product, colleague)
    admin.grant(product, member, own_cards_only=True)
    ana = member.ok("POST", "contacts", {"name": "Ana Pop"}, status=201)
    theirs = colleague.card(product, "Their deal", contact_id=ana["id"], owner_id=colleague.user.id)

    refused = member.delete(f"contacts/{ana['id']}?force=true")
    assert refused.status_code == 409 and "cards" not in refused.get_json()
    assert admin.ok("GET", f"cards/{theirs['id']}")["contact_id"] == ana["id"]


def test_merging_a_contact_on_cards_out_of_sight_is_left_to_an_admin(admin, member):
    secret = admin.product("sales", name="Secret")
    ana = member.ok("POST", "contacts", {"name": "Ana Pop"}, status=201)
    twin = member.ok("POST", "contacts", {"name": "Ana P."}, status=201)
    hidden = admin.card(secret, "Hidden deal", contact_id=twin["id"])

    refused = member.post(f"contacts/{ana['id']}/merge", {"other_id": twin["id"]})
    assert refused.status_code == 409
    assert "cannot see" in refused.get_json()["detail"]
    assert admin.ok("GET", f"cards/{hidden['id']}")["contact_id"] == twin["id"]
    kinds = [row["type"] for row in admin.ok("GET", f"cards/{hidden['id']}/history")["items"]]
    assert "card.contact_merged" not in kinds
    # Folding the contact of the visible side into the other one is fine: no card moves.
    member.ok("POST", f"contacts/{twin['id']}/merge", {"other_id": ana["id"]})
