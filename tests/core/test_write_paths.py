"""Card and task writes answer, record and list exactly what the schemas' dumps did.

The writes build their answers, history rows and events with the dict builders
(``changes.card_json``: the card list's ``fast.card_dict``; ``tasks.schemas.task_json``) and
``GET /cards/{id}/tasks`` answers rows of the table as those dicts. The reference is what the
API answered before: the ORM object read again from the database, dumped by ``CardSchema`` or
``TaskSchema``, through the API's encoder (``cardcrm.common.api.dumps``), compared byte for
byte.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.api import dumps
from cardcrm.common.db import get_db
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.core.cards import service as card_service
from cardcrm.core.cards.changes import card_json
from cardcrm.core.cards.schemas import CardSchema
from cardcrm.core.tasks import service as task_service
from cardcrm.core.tasks.models import Task
from cardcrm.core.tasks.schemas import TaskSchema

from .test_card_list_fast import world  # noqa: F401  (the fixture: every template's cards)


def stored_card(session: Any, card_id: int) -> dict:
    """The card read again, as ``CardSchema`` dumps it."""
    return CardSchema().dump(card_service.get_card(session, card_id))


def stored_task(session: Any, task_id: int) -> dict:
    """The task read again, as ``TaskSchema`` dumps it."""
    return TaskSchema().dump(session.get(Task, task_id))


def check_answer(app: Any, response: Any, stored: Any, status: int = 200) -> dict:
    """The answer is ``stored``'s dump of the object read again, byte for byte, with its ETag."""
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/json"
    answer = response.get_json()
    with app.test_request_context():
        session = get_db().session()
        try:
            assert response.get_data() == dumps(stored(session, answer["id"]))
        finally:
            session.close()
    assert response.headers["ETag"] == f'"{answer["version"]}"'
    return answer


def check_card_answer(app: Any, response: Any, status: int = 200) -> dict:
    return check_answer(app, response, stored_card, status)


def check_task_answer(app: Any, response: Any, status: int = 200) -> dict:
    return check_answer(app, response, stored_task, status)


def test_card_json_is_the_schemas_dump_of_every_card(app, world):  # noqa: F811
    with app.test_request_context():
        session = get_db().session()
        try:
            for item in world["cards"]:
                card = card_service.get_card(session, item["id"])
                assert dumps(card_json(card)) == dumps(CardSchema().dump(card)), item["id"]
        finally:
            session.close()


def test_card_writes_answer_the_schemas_dump(app, admin, world):  # noqa: F811
    sales = world["products"]["sales"]
    contact = admin.ok("POST", "contacts", {"name": "Ana Pop"}, status=201)
    other = admin.ok("POST", "contacts", {"name": "Zoë"}, status=201)
    path = f"products/{sales['id']}/cards"
    plain = check_card_answer(app, admin.post(path, {"title": "Ștefan"}), 201)
    response = admin.post(
        path,
        {
            "title": "日本語",
            "owner_id": admin.user.id,
            "contact_id": contact["id"],
            "contact_ids": [other["id"], contact["id"]],
            "fields": {"value": "1250.50", "source": "Referral"},
            "status_id": sales["statuses"][-1]["id"],
        },
    )
    full = check_card_answer(app, response, 201)
    assert response.headers["Location"] == f"/api/v1/cards/{full['id']}"
    assert full["contact_ids"] == [other["id"]] and full["closed"] is True
    # Edits, moves (into a closed group and back), contacts, a cleared value, no change.
    for card, body in (
        (plain, {"title": "Renamed"}),
        (plain, {"status_id": sales["statuses"][1]["id"]}),
        (plain, {"fields": {"value": "99", "source": None}, "owner_id": admin.user.id}),
        (plain, {"contact_ids": [contact["id"], other["id"]]}),
        (full, {"status_id": sales["statuses"][0]["id"], "title": "Back"}),
        (full, {"contact_id": None, "contact_ids": []}),
        (full, {"title": "Back"}),
    ):
        answer = admin.patch(f"cards/{card['id']}", body, headers={"If-Match": "*"})
        check_card_answer(app, answer)
    # Still refused as before: a status of another product, a stale version.
    invoices = world["products"]["invoices"]
    response = admin.patch(f"cards/{plain['id']}", {"status_id": invoices["statuses"][0]["id"]})
    assert response.status_code == 422
    assert "status_id" in response.get_json()["errors"]
    response = admin.patch(f"cards/{plain['id']}", {"title": "x"}, headers={"If-Match": '"1"'})
    assert response.status_code == 412


def test_task_writes_answer_the_schemas_dump(app, admin, world):  # noqa: F811
    card = world["cards"][0]
    path = f"cards/{card['id']}/tasks"
    response = admin.post(path, {"text": "Call", "due": "2026-12-03T09:15:00Z"})
    timed = check_task_answer(app, response, 201)
    assert response.headers["Location"] == f"/api/v1/tasks/{timed['id']}"
    all_day = check_task_answer(
        app,
        admin.post(
            path, {"text": "Zi întreagă", "due": "2026-12-04", "all_day": True, "type": "meeting"}
        ),
        201,
    )
    repeating = check_task_answer(
        app,
        admin.post(
            path,
            {
                "text": "Weekly",
                "due": "2026-12-07T08:00:00+02:00",
                "repeat": {"freq": "weekly", "weekdays": ["MO", "TH"]},
            },
        ),
        201,
    )
    check_task_answer(app, admin.get(f"tasks/{timed['id']}"))
    postponed = check_task_answer(
        app,
        admin.post(
            f"tasks/{timed['id']}/postpone",
            {"due": "2026-12-05T10:00:00Z"},
            headers={"If-Match": f'"{timed["version"]}"'},
        ),
    )
    assert postponed["postponed_count"] == 1
    check_task_answer(app, admin.post(f"tasks/{all_day['id']}/postpone", {"due": "2026-12-09"}))
    check_task_answer(app, admin.patch(f"tasks/{all_day['id']}", {"text": "Edited"}))
    closed = check_task_answer(
        app,
        admin.post(
            f"tasks/{postponed['id']}/close",
            {"outcome": "cancelled", "comment": "no"},
            headers={"If-Match": f'"{postponed["version"]}"'},
        ),
    )
    assert closed["status"] == "cancelled"
    check_task_answer(app, admin.post(f"tasks/{repeating['id']}/close", {}))
    check_task_answer(app, admin.post(f"tasks/{closed['id']}/reopen"))
    # Still refused as before: a stale version, a closed task closed again, an unknown task,
    # a task of a card in the trash.
    response = admin.post(
        f"tasks/{all_day['id']}/close", {}, headers={"If-Match": f'"{all_day["version"]}"'}
    )
    assert response.status_code == 412
    assert admin.post(f"tasks/{repeating['id']}/close", {}).status_code == 409
    assert admin.post("tasks/999999/close", {}).status_code == 404
    assert admin.post("cards/999999/tasks", {"text": "x", "due": "2026-12-05"}).status_code == 404
    admin.ok("DELETE", f"cards/{card['id']}", status=204)
    assert admin.post(f"tasks/{all_day['id']}/close", {}).status_code == 409
    assert admin.post(path, {"text": "x", "due": "2026-12-05"}).status_code == 409


def reference_page(app: Any, card_id: int, query: dict[str, Any]) -> bytes:
    """A page of the card's tasks as the API answered it before: ORM tasks, ``TaskSchema``."""
    with app.test_request_context():
        session = get_db().session()
        try:
            after = None
            if "cursor" in query:
                position = decode_cursor(query["cursor"])
                after = (datetime.fromisoformat(position["due"]), int(position["id"]))
            limit = int(query.get("limit", 50))
            tasks = task_service.list_tasks(session, card_id, query.get("status"), after, limit + 1)
            cursor = None
            if len(tasks) > limit:
                tasks = tasks[:limit]
                cursor = encode_cursor({"due": tasks[-1].due.isoformat(), "id": tasks[-1].id})
            return dumps({"items": TaskSchema().dump(tasks, many=True), "next_cursor": cursor})
        finally:
            session.close()


def test_every_page_of_a_cards_tasks_matches_the_schemas_dump(app, admin, member, world):  # noqa: F811
    sales = world["products"]["sales"]
    card = admin.card(sales, "Many tasks", owner_id=admin.user.id)
    for index in range(7):
        due = f"2026-12-{index % 3 + 1:02d}T09:00:00Z"  # ties: the cursor needs the id
        admin.task(card, due, text=f"Task {index}")
    admin.task(card, "2026-12-02", all_day=True)
    admin.task(card, "2026-12-08T10:00:00Z", repeat={"freq": "daily", "interval": 2})
    tasks = admin.ok("GET", f"cards/{card['id']}/tasks")["items"]
    admin.ok("POST", f"tasks/{tasks[0]['id']}/close", {})
    admin.ok("POST", f"tasks/{tasks[1]['id']}/close", {"outcome": "cancelled"})
    admin.ok("POST", f"tasks/{tasks[2]['id']}/postpone", {"due": "2026-12-20T10:00:00Z"})
    for query in ({}, {"status": "open"}, {"status": "done"}, {"status": "cancelled"}):
        for limit in (1, 2, 50):
            cursor, pages = None, 0
            while True:
                page_query = {**query, "limit": limit, **({"cursor": cursor} if cursor else {})}
                response = admin.get(f"cards/{card['id']}/tasks", query_string=page_query)
                assert response.status_code == 200, response.get_json()
                assert response.mimetype == "application/json"
                assert response.get_data() == reference_page(app, card["id"], page_query)
                cursor, pages = response.get_json()["next_cursor"], pages + 1
                if cursor is None:
                    break
            assert pages >= 1
    # Who may not see the card gets 404, as before: a member limited to own cards in sales.
    assert member.get(f"cards/{card['id']}/tasks").status_code == 404
    assert admin.get("cards/999999/tasks").status_code == 404
    assert admin.get(f"cards/{card['id']}/tasks?cursor=garbage").status_code == 422
