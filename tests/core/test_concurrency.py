"""Concurrent edits are detected with ETag/If-Match, never silently overwritten."""


def test_a_card_carries_its_version_as_etag(admin):
    card = admin.card(admin.product())
    response = admin.get(f"cards/{card['id']}")
    assert response.headers["ETag"] == f'"{card["version"]}"'


def test_a_stale_card_write_gets_412_and_changes_nothing(admin, member):
    product = admin.product()
    admin.grant(product, member)
    card = admin.card(product, "original")
    etag = admin.get(f"cards/{card['id']}").headers["ETag"]
    first = member.patch(f"cards/{card['id']}", {"title": "member's"}, headers={"If-Match": etag})
    assert first.status_code == 200
    assert first.headers["ETag"] != etag
    stale = admin.patch(f"cards/{card['id']}", {"title": "admin's"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    assert admin.ok("GET", f"cards/{card['id']}")["title"] == "member's"
    again = admin.patch(
        f"cards/{card['id']}", {"title": "admin's"}, headers={"If-Match": first.headers["ETag"]}
    )
    assert again.status_code == 200


def test_a_stale_task_action_gets_412(admin):
    card = admin.card(admin.product())
    task = admin.task(card, "2026-12-01T10:00:00Z")
    etag = admin.get(f"tasks/{task['id']}").headers["ETag"]
    admin.ok("PATCH", f"tasks/{task['id']}", {"text": "changed"}, headers={"If-Match": etag})
    for method, path, body in [
        ("POST", f"tasks/{task['id']}/close", {}),
        ("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-02T10:00:00Z"}),
        ("PATCH", f"tasks/{task['id']}", {"text": "stale"}),
        ("DELETE", f"tasks/{task['id']}", None),
    ]:
        response = admin.request(method, path, json=body, headers={"If-Match": etag})
        assert response.status_code == 412, (path, response.get_json())
    current = admin.ok("GET", f"tasks/{task['id']}")
    assert (current["text"], current["status"], current["postponed_count"]) == (
        "changed",
        "open",
        0,
    )


def test_a_stale_delete_of_a_card_gets_412(admin):
    card = admin.card(admin.product())
    admin.ok("PATCH", f"cards/{card['id']}", {"title": "new"})
    response = admin.delete(f"cards/{card['id']}", headers={"If-Match": f'"{card["version"]}"'})
    assert response.status_code == 412
    assert admin.ok("GET", f"cards/{card['id']}")["trashed"] is False


def test_if_match_star_and_no_if_match_write_unconditionally(admin):
    card = admin.card(admin.product())
    admin.ok("PATCH", f"cards/{card['id']}", {"title": "a"}, headers={"If-Match": "*"})
    admin.ok("PATCH", f"cards/{card['id']}", {"title": "b"})
    assert (
        admin.patch(
            f"cards/{card['id']}", {"title": "c"}, headers={"If-Match": "garbage"}
        ).status_code
        == 412
    )


def test_product_edits_are_versioned_too(admin):
    product = admin.product()
    etag = f'"{product["version"]}"'
    admin.ok(
        "POST",
        f"products/{product['id']}/statuses",
        {"name": "Parked", "group": "inactive"},
        status=201,
    )
    response = admin.patch(
        f"products/{product['id']}", {"name": "Renamed"}, headers={"If-Match": etag}
    )
    assert response.status_code == 412
    assert admin.ok("GET", f"products/{product['id']}")["name"] == product["name"]


def test_one_write_is_one_version_whatever_it_changes(admin, member):
    """A PATCH that changes title, status, owner, fields and contacts at once bumps the version
    once, so a client's If-Match from its answer is never already stale."""
    product = admin.product()
    admin.grant(product, member)
    ana = admin.ok("POST", "contacts", {"name": "Ana"}, status=201)
    bob = admin.ok("POST", "contacts", {"name": "Bob"}, status=201)
    card = admin.card(product, "deal")
    status = product["statuses"][1]["id"]
    changes = [
        {"contact_id": ana["id"]},
        {"contact_ids": [bob["id"]]},
        {"title": "bigger deal", "contact_id": bob["id"], "contact_ids": [ana["id"]]},
        {"status_id": status, "owner_id": member.user.id, "title": "biggest deal"},
    ]
    version = card["version"]
    for change in changes:
        response = admin.patch(f"cards/{card['id']}", change, headers={"If-Match": f'"{version}"'})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["version"] == version + 1, change
        version += 1
