"""The four built-in process templates (sales, invoices, recruiting, projects) as a user sees them:
listed by the API, turned into products, and the invoices plugin's rule about sending."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from cardcrm.core.cards.fields import FIELD_TYPES

BUILTIN_TEMPLATES = ("sales", "invoices", "recruiting", "projects")
GROUPS = ("inactive", "in_progress", "positive", "negative")
# Every product has these task types, before its template's own (DESIGN.md, Tasks).
BUILTIN_TASK_TYPE_KEYS = ["call", "email", "meeting", "todo"]

NEEDS_AMOUNT = "An invoice needs an amount before it is sent."


def templates_by_key(api) -> dict[str, dict]:
    body = api.ok("GET", "templates")
    return {template["key"]: template for template in body["items"]}


def status_named(product: dict, name: str) -> dict:
    return next(status for status in product["statuses"] if status["name"] == name)


# --- Listing the templates ------------------------------------------------------------------------


def test_the_four_built_in_templates_are_listed(member):
    body = member.ok("GET", "templates")
    assert body["next_cursor"] is None
    keys = [template["key"] for template in body["items"]]
    assert set(BUILTIN_TEMPLATES) <= set(keys)
    for template in body["items"]:
        assert template["name"] and template["description"]


def test_listing_templates_needs_a_token(anonymous):
    response = anonymous.get("templates")
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("key", BUILTIN_TEMPLATES)
def test_each_built_in_template_covers_the_four_status_groups_in_order(member, key):
    template = templates_by_key(member)[key]
    groups = [status["group"] for status in template["statuses"]]
    assert set(groups) == set(GROUPS), f"{key} misses a group: {groups}"
    # Groups always appear in the order inactive, in progress, positive, negative.
    assert groups == sorted(groups, key=GROUPS.index)
    names = [status["name"].casefold() for status in template["statuses"]]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("key", BUILTIN_TEMPLATES)
def test_each_built_in_template_has_typed_fields_and_its_own_task_types(member, key):
    template = templates_by_key(member)[key]
    assert template["fields"], f"{key} offers no fields"
    for field in template["fields"]:
        assert field["key"] and field["label"]
        assert field["type"] in FIELD_TYPES
        if field["type"] in ("choice", "multichoice"):
            assert field["choices"]
    assert template["task_types"], f"{key} offers no task types"
    for task_type in template["task_types"]:
        assert set(task_type) == {"key", "label"}


def test_the_built_in_templates_carry_the_fields_their_process_needs(member):
    templates = templates_by_key(member)
    fields = {key: {field["key"]: field for field in templates[key]["fields"]} for key in templates}
    assert fields["sales"]["value"]["type"] == "money"
    assert fields["invoices"]["amount"]["type"] == "money"
    assert fields["invoices"]["due_date"]["type"] == "date"
    assert fields["recruiting"]["position"]["type"] == "text"
    assert fields["recruiting"]["position"].get("required") is True
    assert fields["projects"]["deadline"]["type"] == "date"


# --- Products made from the templates -------------------------------------------------------------


@pytest.mark.parametrize("key", BUILTIN_TEMPLATES)
def test_a_product_made_from_a_template_gets_its_statuses_fields_and_task_types(admin, key):
    template = templates_by_key(admin)[key]
    product = admin.product(key, name=f"Our {template['name']}")

    assert product["template"] == key
    assert [(s["name"], s["group"]) for s in product["statuses"]] == [
        (s["name"], s["group"]) for s in template["statuses"]
    ]
    # Positions count from 0 inside each group.
    for group in GROUPS:
        positions = [s["position"] for s in product["statuses"] if s["group"] == group]
        assert positions == list(range(len(positions)))
    assert [field["key"] for field in product["fields"]] == [f["key"] for f in template["fields"]]
    assert [t["key"] for t in product["task_types"]] == BUILTIN_TASK_TYPE_KEYS + [
        t["key"] for t in template["task_types"]
    ]
    # Reading the product back gives the same thing.
    assert admin.ok("GET", f"products/{product['id']}")["statuses"] == product["statuses"]


@pytest.mark.parametrize("key", BUILTIN_TEMPLATES)
def test_a_task_of_the_templates_own_type_can_be_planned_on_its_cards(admin, key):
    template = templates_by_key(admin)[key]
    product = admin.product(key)
    fields = {"position": "Backend developer"} if key == "recruiting" else {}
    card = admin.card(product, "First card", fields=fields)
    own_type = template["task_types"][0]["key"]
    task = admin.task(card, "2026-12-01T10:00:00+01:00", type=own_type)
    assert task["type"] == own_type


def test_a_task_type_of_another_template_is_refused(admin):
    product = admin.product("sales")
    card = admin.card(product)
    response = admin.post(
        f"cards/{card['id']}/tasks",
        {"text": "Remind", "due": "2026-12-01T10:00:00Z", "type": "payment_reminder"},
    )
    assert response.status_code == 422
    assert "type" in response.get_json()["errors"]


def test_a_new_card_lands_in_the_templates_first_status(admin):
    product = admin.product("sales")
    card = admin.card(product, "ACME")
    assert card["status_id"] == product["statuses"][0]["id"]
    assert card["status_group"] == "inactive"


def test_a_candidate_needs_the_position_the_recruiting_template_requires(admin):
    product = admin.product("recruiting")
    response = admin.post(f"products/{product['id']}/cards", {"title": "Ana", "fields": {}})
    assert response.status_code == 422
    assert "fields.position" in response.get_json()["errors"]
    card = admin.card(product, "Ana", fields={"position": "Designer"})
    assert card["fields"] == {"position": "Designer"}


def test_an_unknown_template_is_refused_with_the_field_named(admin):
    response = admin.post("products", {"name": "Odd", "template": "no_such_template"})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "template" in response.get_json()["errors"]


# --- The plugins list -----------------------------------------------------------------------------


def test_the_plugins_list_shows_the_built_ins_with_their_hooks_and_version(member):
    body = member.ok("GET", "plugins")
    plugins = {plugin["name"]: plugin for plugin in body["items"]}
    assert set(BUILTIN_TEMPLATES) <= set(plugins)
    expected_version = version("cardcrm")
    for key in BUILTIN_TEMPLATES:
        assert plugins[key]["version"] == expected_version
        assert "cardcrm_product_templates" in plugins[key]["hooks"]
        # each ships its words' translations (one folder the four share)
        assert "cardcrm_translation_directories" in plugins[key]["hooks"]
    assert plugins["invoices"]["hooks"] == sorted(
        [
            "cardcrm_product_templates",
            "cardcrm_translation_directories",
            "cardcrm_validate_status_change",
        ]
    )
    assert plugins["sales"]["hooks"] == [
        "cardcrm_product_templates",
        "cardcrm_translation_directories",
    ]


def test_each_template_names_the_plugin_that_offers_it(member):
    templates = templates_by_key(member)
    for key in BUILTIN_TEMPLATES:
        assert templates[key]["plugin"] == key


# --- The invoices rule: no invoice is sent without an amount --------------------------------------


@pytest.fixture
def invoices(admin) -> dict:
    return admin.product("invoices", name="Invoices")


def test_an_invoice_cannot_be_sent_without_an_amount(admin, invoices):
    card = admin.card(invoices, "Invoice 2026-001")
    sent = status_named(invoices, "Sent")

    response = admin.patch(f"cards/{card['id']}", {"status_id": sent["id"]})

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 422
    assert problem["title"]
    assert NEEDS_AMOUNT in problem["detail"]
    assert problem["errors"]["status_id"] == [NEEDS_AMOUNT]
    # Nothing changed: same status, same version, no history of a move.
    again = admin.ok("GET", f"cards/{card['id']}")
    assert again["status_id"] == card["status_id"]
    assert again["version"] == card["version"]
    history = admin.ok("GET", f"cards/{card['id']}/history")["items"]
    assert "card.status_changed" not in [row["type"] for row in history]


def test_the_invoices_refusal_is_in_the_readers_language(admin, invoices):
    card = admin.card(invoices, "Factura 2026-001")
    sent = status_named(invoices, "Sent")

    response = admin.patch(
        f"cards/{card['id']}", {"status_id": sent["id"]}, headers={"Accept-Language": "ro"}
    )

    assert response.status_code == 422
    assert response.get_json()["errors"]["status_id"] == [
        "O factură are nevoie de o sumă înainte de a fi trimisă."
    ]


def test_an_invoice_with_an_amount_is_sent(admin, invoices):
    card = admin.card(invoices, "Invoice 2026-002", fields={"amount": "1250.00"})
    sent = status_named(invoices, "Sent")

    moved = admin.ok("PATCH", f"cards/{card['id']}", {"status_id": sent["id"]})

    assert moved["status_id"] == sent["id"]
    assert moved["status_group"] == "in_progress"
    assert moved["version"] > card["version"]


def test_an_amount_given_in_the_same_request_lets_the_invoice_be_sent(admin, invoices):
    card = admin.card(invoices, "Invoice 2026-003")
    sent = status_named(invoices, "Sent")

    moved = admin.ok(
        "PATCH", f"cards/{card['id']}", {"status_id": sent["id"], "fields": {"amount": 99}}
    )

    assert moved["status_id"] == sent["id"]
    assert moved["fields"]["amount"] == "99.00"


def test_a_refused_move_also_drops_the_other_changes_of_the_request(admin, invoices):
    card = admin.card(invoices, "Invoice 2026-004")
    sent = status_named(invoices, "Sent")

    response = admin.patch(
        f"cards/{card['id']}",
        {"title": "Renamed", "fields": {"number": "F-7"}, "status_id": sent["id"]},
    )

    assert response.status_code == 422
    again = admin.ok("GET", f"cards/{card['id']}")
    assert again["title"] == "Invoice 2026-004"
    assert again["fields"] == {}
    assert again["version"] == card["version"]


def test_an_invoice_cannot_be_created_directly_as_sent_without_an_amount(admin, invoices):
    sent = status_named(invoices, "Sent")
    response = admin.post(
        f"products/{invoices['id']}/cards", {"title": "Straight out", "status_id": sent["id"]}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["status_id"] == [NEEDS_AMOUNT]
    assert admin.ok("GET", f"products/{invoices['id']}/cards")["items"] == []


def test_a_zero_amount_does_not_count_as_an_amount(admin, invoices):
    card = admin.card(invoices, "Free invoice", fields={"amount": "0"})
    response = admin.patch(
        f"cards/{card['id']}", {"status_id": status_named(invoices, "Sent")["id"]}
    )
    assert response.status_code == 422


def test_an_invoice_is_sent_before_it_is_paid(admin, invoices):
    card = admin.card(invoices, "Invoice 2026-005", fields={"amount": "10.00"})
    paid = status_named(invoices, "Paid")

    response = admin.patch(f"cards/{card['id']}", {"status_id": paid["id"]})
    assert response.status_code == 422
    assert response.get_json()["errors"]["status_id"] == [
        "An invoice must be sent before it is paid."
    ]

    admin.ok("PATCH", f"cards/{card['id']}", {"status_id": status_named(invoices, "Sent")["id"]})
    assert admin.ok("PATCH", f"cards/{card['id']}", {"status_id": paid["id"]})["closed"] is True


def test_an_invoice_without_an_amount_can_still_be_cancelled(admin, invoices):
    card = admin.card(invoices, "Mistake")
    cancelled = status_named(invoices, "Cancelled")
    moved = admin.ok("PATCH", f"cards/{card['id']}", {"status_id": cancelled["id"]})
    assert moved["status_group"] == "negative"


def test_a_product_without_a_template_is_not_bound_by_the_invoice_rule(admin):
    product = admin.product(
        None,
        name="Our own invoices",
        statuses=[
            {"name": "To issue", "group": "inactive"},
            {"name": "Sent", "group": "in_progress"},
        ],
        fields=[{"key": "amount", "label": "Amount", "type": "money"}],
    )
    assert product["template"] is None
    card = admin.card(product, "No amount yet")
    moved = admin.ok(
        "PATCH", f"cards/{card['id']}", {"status_id": status_named(product, "Sent")["id"]}
    )
    assert moved["status_group"] == "in_progress"


def test_a_sales_deal_moves_on_without_any_amount(admin):
    product = admin.product("sales")
    card = admin.card(product, "Globex")
    offer_sent = status_named(product, "Offer sent")
    moved = admin.ok("PATCH", f"cards/{card['id']}", {"status_id": offer_sent["id"]})
    assert moved["status_id"] == offer_sent["id"]


def test_deleting_a_status_cannot_push_an_invoice_without_an_amount_to_sent(admin, invoices):
    to_issue, sent = status_named(invoices, "To issue"), status_named(invoices, "Sent")
    card = admin.card(invoices, "Invoice 2026-006")

    response = admin.delete(f"statuses/{to_issue['id']}?move_to={sent['id']}")

    assert response.status_code == 422
    assert NEEDS_AMOUNT in response.get_json()["detail"]
    assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == to_issue["id"]
    assert to_issue in admin.ok("GET", f"products/{invoices['id']}")["statuses"]
