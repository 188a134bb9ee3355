"""Products and their statuses: order by group then position, edits and slugs."""


def groups_and_names(product):
    return [(status["group"], status["name"]) for status in product["statuses"]]


def test_a_product_without_template_needs_statuses_and_orders_them_by_group(admin):
    assert admin.post("products", {"name": "Bare"}).status_code == 422
    product = admin.ok(
        "POST",
        "products",
        {
            "name": "Support",
            "statuses": [
                {"name": "Solved", "group": "positive"},
                {"name": "New", "group": "inactive"},
                {"name": "Dropped", "group": "negative"},
                {"name": "Working", "group": "in_progress"},
                {"name": "Waiting", "group": "in_progress"},
            ],
        },
        status=201,
    )
    assert groups_and_names(product) == [
        ("inactive", "New"),
        ("in_progress", "Working"),
        ("in_progress", "Waiting"),
        ("positive", "Solved"),
        ("negative", "Dropped"),
    ]
    assert product["slug"] == "support" and product["template"] is None
    card = admin.card(product)
    assert card["status_id"] == product["statuses"][0]["id"]


def test_slugs_are_unique(admin):
    first = admin.product("sales", name="Sales Team")
    second = admin.product("sales", name="Sales team")
    assert (first["slug"], second["slug"]) == ("sales-team", "sales-team-2")


def test_statuses_are_added_at_a_position_and_moved_between_groups(admin):
    product = admin.product("sales")
    pid = product["id"]
    added = admin.ok(
        "POST",
        f"products/{pid}/statuses",
        {"name": "Qualified", "group": "inactive", "position": 1},
        status=201,
    )
    names = [status["name"] for status in admin.ok("GET", f"products/{pid}")["statuses"]]
    assert names[:3] == ["Database", "Qualified", "Lead"]
    admin.ok("PATCH", f"statuses/{added['id']}", {"group": "in_progress", "position": 0})
    current = admin.ok("GET", f"products/{pid}")
    assert groups_and_names(current)[:3] == [
        ("inactive", "Database"),
        ("inactive", "Lead"),
        ("in_progress", "Qualified"),
    ]
    positions = [(status["group"], status["position"]) for status in current["statuses"]]
    assert positions[:4] == [
        ("inactive", 0),
        ("inactive", 1),
        ("in_progress", 0),
        ("in_progress", 1),
    ]


def test_status_names_are_unique_within_a_product(admin):
    product = admin.product("sales")
    response = admin.post(
        f"products/{product['id']}/statuses", {"name": "won", "group": "positive"}
    )
    assert response.status_code == 422


def test_the_last_status_cannot_be_deleted(admin):
    product = admin.ok(
        "POST",
        "products",
        {"name": "One", "statuses": [{"name": "Only", "group": "inactive"}]},
        status=201,
    )
    assert admin.delete(f"statuses/{product['statuses'][0]['id']}").status_code == 409


def test_field_definitions_are_validated_and_replaced(admin):
    product = admin.product("sales")
    bad = admin.patch(
        f"products/{product['id']}",
        {"fields": [{"key": "tier", "label": "Tier", "type": "choice"}]},
    )
    assert bad.status_code == 422 and "fields" in bad.get_json()["errors"]
    updated = admin.ok(
        "PATCH",
        f"products/{product['id']}",
        {"fields": [{"key": "tier", "label": "Tier", "type": "choice", "choices": ["A", "B"]}]},
    )
    assert [field["key"] for field in updated["fields"]] == ["tier"]
    assert (
        admin.post(
            f"products/{product['id']}/cards", {"title": "x", "fields": {"tier": "C"}}
        ).status_code
        == 422
    )
    admin.card(updated, fields={"tier": "A"})


def test_members_cannot_change_products(member, admin):
    product = admin.product()
    assert member.post("products", {"name": "Mine", "template": "sales"}).status_code == 403
    assert member.patch(f"products/{product['id']}", {"name": "x"}).status_code == 403
    assert member.delete(f"products/{product['id']}").status_code == 403
    assert member.ok("GET", "products")["items"] == []  # not a member yet
    admin.grant(product, member)
    assert member.ok("GET", "products")["items"][0]["id"] == product["id"]


def test_every_field_type_round_trips(admin):
    product = admin.ok(
        "POST",
        "products",
        {
            "name": "All types",
            "statuses": [{"name": "New", "group": "inactive"}],
            "fields": [
                {"key": "t", "label": "T", "type": "text"},
                {"key": "n", "label": "N", "type": "number"},
                {"key": "m", "label": "M", "type": "money", "currency": "EUR"},
                {"key": "d", "label": "D", "type": "date"},
                {"key": "dt", "label": "DT", "type": "datetime"},
                {"key": "c", "label": "C", "type": "choice", "choices": ["x", "y"]},
                {"key": "mc", "label": "MC", "type": "multichoice", "choices": ["x", "y"]},
                {"key": "b", "label": "B", "type": "checkbox"},
                {"key": "e", "label": "E", "type": "email"},
                {"key": "p", "label": "P", "type": "phone"},
                {"key": "u", "label": "U", "type": "url"},
                {"key": "r", "label": "R", "type": "text", "required": True},
            ],
        },
        status=201,
    )
    values = {
        "t": "hello",
        "n": 2.5,
        "m": "10.5",
        "d": "2026-12-01",
        "dt": "2026-12-01T10:00:00+02:00",
        "c": "x",
        "mc": ["x", "y"],
        "b": True,
        "e": "a@b.example",
        "p": "+40 721 000 000",
        "u": "https://example.com/x",
        "r": "needed",
    }
    card = admin.card(product, fields=values)
    assert card["fields"] == {**values, "m": "10.50", "dt": "2026-12-01T10:00:00+02:00"}
    missing = admin.post(f"products/{product['id']}/cards", {"title": "x", "fields": {"t": "no r"}})
    assert missing.status_code == 422 and "fields.r" in missing.get_json()["errors"]


def test_values_of_a_removed_field_are_kept_and_do_not_block_edits(admin):
    product = admin.product("sales")
    card = admin.card(product, "ACME", fields={"value": 100, "source": "Referral"})
    remaining = [field for field in product["fields"] if field["key"] != "source"]
    admin.ok("PATCH", f"products/{product['id']}", {"fields": remaining})
    edited = admin.ok(
        "PATCH", f"cards/{card['id']}", {"title": "ACME Corp", "fields": {"value": 200}}
    )
    assert edited["fields"] == {"value": "200.00", "source": "Referral"}
    refused = admin.patch(f"cards/{card['id']}", {"fields": {"source": "Website"}})
    assert refused.status_code == 422 and "fields.source" in refused.get_json()["errors"]
