def test_health(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_admin_creates_a_sales_product_with_a_card_and_task(admin):
    product = admin.product("sales")
    assert [s["group"] for s in product["statuses"]][0] == "inactive"
    card = admin.card(product, "ACME")
    task = admin.task(card, "2026-11-27T09:30:00+02:00")
    assert task["due"] == "2026-11-27T07:30:00Z"
    assert admin.ok("GET", f"cards/{card['id']}")["next_task_due"] == "2026-11-27T07:30:00Z"
