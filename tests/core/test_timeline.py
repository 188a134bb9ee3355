"""A card's timeline: every kind in one list, newest first, paged without repeats or gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cardcrm.common.pagination import encode_cursor
from cardcrm.core.cards.models import Card, CardHistory
from cardcrm.core.timeline import SOURCES, Entry, Position
from sqlalchemy import update

MOMENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def timeline(api: Any, card: dict, query: str = "", status: int = 200) -> Any:
    return api.ok("GET", f"cards/{card['id']}/timeline{query}", status=status)


def every_page(api: Any, card: dict, limit: int, query: str = "") -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        page_query = f"?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        page = timeline(api, card, page_query)
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
def notes_at(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A test-only ``note`` source serving the given notes (``[(at, id)]``) for any card."""

    def register(notes: list[tuple[datetime, int]]) -> None:
        entries = sorted(
            (
                Entry("note", at, note_id, {"id": note_id, "body": f"note {note_id}"})
                for at, note_id in notes
            ),
            key=lambda entry: entry.position,
            reverse=True,
        )

        def notes_source(session: Any, card: Card, before: Position | None, limit: int) -> list:
            return [e for e in entries if before is None or e.position < before][:limit]

        monkeypatch.setitem(SOURCES, "note", notes_source)

    return register


def set_history_times(db_session: Any, card: dict, at: datetime) -> None:
    db_session.execute(update(CardHistory).where(CardHistory.card_id == card["id"]).values(at=at))
    db_session.commit()


def test_kinds_merge_newest_first_and_pages_neither_repeat_nor_skip_items_of_one_instant(
    admin, db_session, notes_at
):
    card = admin.card(admin.product(), "ACME")
    for number in range(3):
        admin.task(card, "2026-12-10T10:00:00Z", text=f"Call {number}")
        admin.ok("PATCH", f"cards/{card['id']}", {"title": f"ACME {number}"})
    # Everything at one instant, as a bulk import writes it, with notes at that instant too.
    set_history_times(db_session, card, MOMENT)
    notes_at(
        [
            (MOMENT, 1),
            (MOMENT, 2),
            (MOMENT + timedelta(hours=1), 3),
            (MOMENT - timedelta(hours=1), 4),
        ]
    )

    everything = timeline(admin, card, "?limit=500")
    assert everything["next_cursor"] is None
    ids = [item["id"] for item in everything["items"]]
    assert len(ids) == len(set(ids)) == 1 + 3 + 3 + 4  # card.created, tasks, edits, notes
    assert ids[0] == "note-3" and ids[-1] == "note-4"  # the newest and the oldest
    order = [
        (item["at"], item["kind"], int(item["id"].split("-")[1])) for item in everything["items"]
    ]
    assert order == sorted(order, reverse=True)
    for limit in (1, 2, 3, 4):
        assert [item["id"] for item in every_page(admin, card, limit)] == ids


def test_an_item_carries_its_object_under_its_kind(admin, notes_at):
    card = admin.card(admin.product())
    notes_at([(MOMENT, 7)])
    items = timeline(admin, card)["items"]
    note = next(item for item in items if item["kind"] == "note")
    assert note == {
        "kind": "note",
        "at": "2026-12-01T09:00:00Z",
        "id": "note-7",
        "note": {"id": 7, "body": "note 7"},
    }
    created = next(item for item in items if item["kind"] == "history")
    assert created["history"]["type"] == "card.created"
    assert created["history"]["user_id"] == admin.user.id
    assert created["id"] == f"history-{created['history']['id']}"


def test_task_items_show_the_task_as_it_is_now_with_each_change(admin):
    card = admin.card(admin.product())
    task = admin.task(card, "2026-12-10T10:00:00Z", text="Send the offer")
    admin.ok("POST", f"tasks/{task['id']}/close", {"comment": "Sent"})
    gone = admin.task(card, "2026-12-11T10:00:00Z", text="Old idea")
    admin.delete(f"tasks/{gone['id']}")

    items = timeline(admin, card, "?kind=task")["items"]
    assert {item["kind"] for item in items} == {"task"}
    changes = [(item["task"]["id"], item["task"]["change"]["type"]) for item in items]
    assert changes == [
        (gone["id"], "task.deleted"),
        (gone["id"], "task.created"),
        (task["id"], "task.closed"),
        (task["id"], "task.created"),
    ]
    closed = items[2]["task"]
    assert closed["status"] == "done" and closed["text"] == "Send the offer"
    assert closed["change"]["data"]["comment"] == "Sent"
    assert closed["change"]["user_id"] == admin.user.id
    assert items[0]["task"]["deleted"] is True
    assert items[0]["id"] == f"task-{items[0]['task']['change']['history_id']}"


def test_history_leaves_out_what_a_note_file_or_email_stands_for(admin, db_session):
    card = admin.card(admin.product())
    row = {"card_id": card["id"], "user_id": admin.user.id, "data": {}}
    for kind in ("note.created", "note.deleted", "file.added", "file.removed", "email.received"):
        db_session.add(CardHistory(type=kind, at=MOMENT, **row))
    db_session.commit()
    admin.task(card, "2026-12-10T10:00:00Z")
    kinds = [item["history"]["type"] for item in timeline(admin, card, "?kind=history")["items"]]
    assert sorted(kinds) == ["card.created", "file.removed", "note.deleted"]


@pytest.mark.parametrize(
    "query", ["?kind=task,history", "?kind=task&kind=history", "?kind=history, task"]
)
def test_the_kind_filter_takes_a_list_either_way(admin, notes_at, query):
    card = admin.card(admin.product())
    admin.task(card, "2026-12-10T10:00:00Z")
    notes_at([(MOMENT, 1)])
    assert len(timeline(admin, card)["items"]) == 3
    kinds = [item["kind"] for item in timeline(admin, card, query)["items"]]
    assert sorted(kinds) == ["history", "task"]


def test_an_unknown_kind_or_a_forged_cursor_is_refused(admin):
    card = admin.card(admin.product())
    refused = admin.get(f"cards/{card['id']}/timeline?kind=task,meetings")
    assert refused.status_code == 422
    assert "meetings" in refused.get_json()["errors"]["kind"][0]
    forged = [
        {"at": 1},
        {"at": "yesterday", "kind": "note", "id": 1},
        {"at": "0001-01-01T00:00:00+05:00", "kind": "note", "id": 1},
        {"at": "2026-12-01T09:00:00Z", "kind": "note", "id": 2**70},
        {"at": "2026-12-01T09:00:00", "kind": "note", "id": 1},
    ]
    for cursor in ["nonsense!", *(encode_cursor(position) for position in forged)]:
        response = admin.get(f"cards/{card['id']}/timeline?cursor={cursor}")
        assert response.status_code == 422, (cursor, response.get_json())
        assert "cursor" in response.get_json()["errors"]


def test_the_timeline_follows_the_cards_access_rules(admin, member, new_user):
    product = admin.product()
    admin.grant(product, member, own_cards_only=True)
    theirs = admin.card(product, "Admin's", owner_id=admin.user.id)
    mine = admin.card(product, "Member's", owner_id=member.user.id)
    assert member.get(f"cards/{theirs['id']}/timeline").status_code == 404
    assert member.get(f"cards/{mine['id']}/timeline").status_code == 200
    outsider = new_user("outsider@example.com")
    assert outsider.get(f"cards/{mine['id']}/timeline").status_code == 404
    assert admin.get("cards/999999/timeline").status_code == 404
