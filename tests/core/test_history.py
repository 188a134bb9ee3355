"""Every change of a card or its tasks leaves a history row: who, when, before and after."""

import json
from datetime import UTC, datetime

from cardcrm.common.db import get_db
from cardcrm.core.cards.models import CardHistory
from sqlalchemy import Text, cast, select


def history(api, card, query=""):
    return api.ok("GET", f"cards/{card['id']}/history{query}")["items"]


def test_card_edits_record_before_and_after(admin, member):
    product = admin.product("sales")
    admin.grant(product, member)
    card = admin.card(product, "ACME", fields={"value": 100})
    member.ok(
        "PATCH",
        f"cards/{card['id']}",
        {"title": "ACME Corp", "fields": {"value": 250, "source": "Referral"}},
    )
    row = history(admin, card)[-1]
    assert row["type"] == "card.updated"
    assert row["user_id"] == member.user.id
    assert row["at"].endswith("Z")
    assert row["data"]["changes"] == {
        "title": {"before": "ACME", "after": "ACME Corp"},
        "fields.value": {"before": "100.00", "after": "250.00"},
        "fields.source": {"before": None, "after": "Referral"},
    }


def test_status_changes_record_from_and_to(admin):
    product = admin.product("sales")
    won = next(status for status in product["statuses"] if status["group"] == "positive")
    card = admin.card(product)
    moved = admin.ok("PATCH", f"cards/{card['id']}", {"status_id": won["id"]})
    assert moved["closed"] is True and moved["status_group"] == "positive"
    row = history(admin, card)[-1]
    assert row["type"] == "card.status_changed"
    assert row["data"]["from"]["id"] == product["statuses"][0]["id"]
    assert row["data"]["to"] == {"id": won["id"], "name": won["name"], "group": "positive"}


def test_task_actions_are_in_the_card_history_and_filterable_by_kind(admin):
    card = admin.card(admin.product())
    task = admin.task(card, "2026-12-01T10:00:00Z")
    admin.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-02T10:00:00Z"})
    admin.ok("POST", f"tasks/{task['id']}/close", {"comment": "Talked to Ana"})
    admin.ok("POST", f"tasks/{task['id']}/reopen")
    admin.delete(f"tasks/{task['id']}")
    kinds = [row["type"] for row in history(admin, card)]
    assert kinds == [
        "card.created",
        "task.created",
        "task.postponed",
        "task.closed",
        "task.reopened",
        "task.deleted",
    ]
    postponed = history(admin, card, "?type=task.postponed")
    assert [row["type"] for row in postponed] == ["task.postponed"]
    assert postponed[0]["data"]["before"]["due"] == "2026-12-01T10:00:00Z"
    assert postponed[0]["data"]["after"]["due"] == "2026-12-02T10:00:00Z"
    assert postponed[0]["task_id"] == task["id"]
    closed = history(admin, card, "?type=task.closed")[0]
    assert closed["data"] == {"outcome": "done", "comment": "Talked to Ana"}
    only_tasks = history(admin, card, "?type=task")
    assert len(only_tasks) == 5
    both = history(admin, card, "?type=card.created&type=task.deleted")
    assert [row["type"] for row in both] == ["card.created", "task.deleted"]
    assert history(admin, card, "?type=task.deleted")[0]["data"]["task"]["text"] == "Call back"


def test_history_pages_oldest_first(admin):
    card = admin.card(admin.product())
    for index in range(5):
        admin.ok("PATCH", f"cards/{card['id']}", {"title": f"title {index}"})
    first = admin.ok("GET", f"cards/{card['id']}/history?limit=4")
    second = admin.ok("GET", f"cards/{card['id']}/history?limit=4&cursor={first['next_cursor']}")
    ids = [row["id"] for row in first["items"] + second["items"]]
    assert ids == sorted(ids) and len(ids) == 6 and second["next_cursor"] is None


def test_a_sync_conflicts_losing_version_is_kept_in_the_history(app, client, admin, member):
    from cardcrm.common.db import get_db
    from cardcrm.core.auth.service import create_token

    product = admin.product()
    admin.grant(product, member)
    card = admin.card(product)
    task = member.task(card, "2026-12-01T10:00:00Z")
    body = {
        "source": "caldav",
        "losing": {"due": "2026-12-03T10:00:00Z"},
        "winning": {"due": task["due"]},
    }
    assert member.post(f"tasks/{task['id']}/sync-conflicts", body).status_code == 403
    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="calendar")
        session.close()
    headers = {"Authorization": f"Bearer {token}", "X-Cardcrm-On-Behalf-Of": str(member.user.id)}
    response = client.post(f"/api/v1/tasks/{task['id']}/sync-conflicts", json=body, headers=headers)
    assert response.status_code == 204
    [row] = history(admin, card, "?type=task.sync_conflict")
    assert row["data"]["losing"] == {"due": "2026-12-03T10:00:00Z"}
    assert row["user_id"] == member.user.id and row["task_id"] == task["id"]


def test_trashing_a_card_reads_card_deleted_as_the_event_does_and_the_old_word_still_filters(
    admin,
):
    card = admin.card(admin.product("sales"), "ACME")
    assert admin.delete(f"cards/{card['id']}").status_code == 204
    assert [row["type"] for row in history(admin, card)][-1] == "card.deleted"
    for word in ("card.deleted", "card.trashed"):  # the word history used before
        assert [row["type"] for row in history(admin, card, f"?type={word}")] == ["card.deleted"]


def test_deleting_a_status_moves_its_cards_as_a_move_does_and_says_why(admin):
    product = admin.product("sales")
    first = product["statuses"][0]
    won = next(status for status in product["statuses"] if status["name"] == "Won")
    card = admin.card(product, "Big deal")
    assert admin.delete(f"statuses/{first['id']}?move_to={won['id']}").status_code == 204
    moved = admin.ok("GET", f"cards/{card['id']}")
    assert moved["status_id"] == won["id"] and moved["version"] == card["version"] + 1
    row = history(admin, card)[-1]
    assert row["type"] == "card.status_changed"
    assert row["data"] == {
        "from": {"id": first["id"], "name": first["name"], "group": first["group"]},
        "to": {"id": won["id"], "name": "Won", "group": "positive"},
        "reason": "status deleted",
    }
    event = admin.ok("GET", "events?limit=100")["items"][-2]  # the product's update is last
    assert event["type"] == "card.status_changed" and event["data"]["status_id"] == won["id"]
    assert event["data"]["before"] == {"status_id": first["id"], "status_group": first["group"]}
    # A move into the positive group is a positive result, whoever made it.
    assert [item["card"]["title"] for item in admin.ok("GET", "wall")["items"]] == ["Big deal"]


def test_a_plugin_may_refuse_the_moves_of_a_status_deletion(admin):
    product = admin.product("invoices")
    to_issue = product["statuses"][0]
    paid = next(status for status in product["statuses"] if status["name"] == "Paid")
    card = admin.card(product, "Invoice 7")  # no amount: the plugin refuses to call it paid
    response = admin.delete(f"statuses/{to_issue['id']}?move_to={paid['id']}")
    assert response.status_code == 422
    assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == to_issue["id"]
    statuses = admin.ok("GET", f"products/{product['id']}")["statuses"]
    assert to_issue["id"] in [status["id"] for status in statuses]


def test_a_refused_status_deletion_leaves_no_history_of_the_moves_before_the_refusal(admin):
    # A card's history rows are written when its write commits: the cards move in id order,
    # so the first card's move was recorded before the second card's was refused, and the
    # refusal undoes both.
    product = admin.product("invoices")
    to_issue = product["statuses"][0]
    sent = next(status for status in product["statuses"] if status["name"] == "Sent")
    priced = admin.card(product, "Invoice 6", fields={"amount": 120})
    unpriced = admin.card(product, "Invoice 7")  # no amount: the plugin refuses to send it
    assert admin.delete(f"statuses/{to_issue['id']}?move_to={sent['id']}").status_code == 422
    for card in (priced, unpriced):
        assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == to_issue["id"]
        assert [row["type"] for row in history(admin, card)] == ["card.created"]
    # The next write of the card records its own change, and only it.
    admin.ok("PATCH", f"cards/{priced['id']}", {"status_id": sent["id"]})
    rows = history(admin, priced)
    assert [row["type"] for row in rows] == ["card.created", "card.status_changed"]
    assert rows[1]["data"]["to"]["id"] == sent["id"] and "reason" not in rows[1]["data"]


def test_one_writes_rows_keep_their_order_and_every_value(app, admin):
    """Closing a recurring task records two rows in one transaction (the close, then the next
    occurrence); on PostgreSQL they go in the events' statement as JSON. Both keep their
    order, their task, their text beyond ASCII and their instant to the microsecond, and the
    table keeps each payload as the text ``json.dumps`` makes."""
    card = admin.card(admin.product(), "Ștefan și fiii")
    repeat = {"freq": "weekly", "weekdays": ["MO"]}
    task = admin.task(card, "2026-12-07T09:00:00Z", "Sună-l pe Ștefan", repeat=repeat)
    before = datetime.now(UTC)
    admin.ok("POST", f"tasks/{task['id']}/close", {"comment": "Vorbit — revine luni"})
    after = datetime.now(UTC)
    closed, created = history(admin, card)[-2:]
    assert closed["type"] == "task.closed" and closed["task_id"] == task["id"]
    assert closed["data"] == {"outcome": "done", "comment": "Vorbit — revine luni"}
    assert created["type"] == "task.created" and created["id"] > closed["id"]
    assert created["task_id"] != task["id"]
    assert created["data"]["task"]["text"] == "Sună-l pe Ștefan"
    assert created["data"]["task"]["due"] == "2026-12-14T09:00:00Z"
    with app.app_context():
        session = get_db().session()
        try:
            rows = session.execute(
                select(CardHistory.at, cast(CardHistory.data, Text), CardHistory.user_id)
                .where(CardHistory.card_id == card["id"])
                .order_by(CardHistory.id)
            ).all()
        finally:
            session.close()
    (at, text, user_id), (next_at, _, _) = rows[-2:]
    assert text == json.dumps(closed["data"]) and user_id == admin.user.id
    # The instants recorded in the request, whole (a lost zone or fraction falls outside).
    assert before <= at <= next_at <= after
