"""The event contract (``cardcrm.common.events``) and core agree, and docs/events.md lists it.

Core is driven through its API as users would drive it; every event it records must validate,
and every type the contract names must have been recorded at least once: the contract can
neither list a type core never emits nor miss one core emits (the outbox refuses those).
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from cardcrm.common.db import get_db
from cardcrm.common.events import PAYLOAD_SCHEMAS, EventContractError, EventType, validate_event
from cardcrm.core.events import record_event
from cardcrm.core.mail.service import deliver

DOCS = Path(__file__).resolve().parents[1] / "docs" / "events.md"


def recorded_events(api: Any) -> list[dict[str, Any]]:
    """Every event on core's feed, read as a sidecar reads it."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = api.ok("GET", f"events?after={after}&limit=1000")
        events += page["items"]
        if not page["items"]:
            return events
        after = page["last_id"]


def csv_import(api: Any, path: str, body: str) -> dict:
    response = api.post(path, data=body.encode(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def use_core_as_a_team_would(admin: Any, member: Any) -> None:
    """One pass over everything that changes core's data, through its API."""
    product = admin.product("sales", name="Sales")
    admin.ok("PATCH", f"products/{product['id']}", {"name": "Sales EU"})
    parked = admin.ok(
        "POST", f"products/{product['id']}/statuses", {"name": "Parked", "group": "inactive"}
    )
    admin.ok("PATCH", f"statuses/{parked['id']}", {"name": "On hold"})
    admin.grant(product, member, own_cards_only=True)

    ana = admin.ok("POST", "contacts", {"name": "Ana Pop", "emails": ["ana@example.com"]})
    twin = admin.ok(
        "POST", "contacts?allow_duplicate=true", {"name": "Ana P.", "emails": ["ana@example.com"]}
    )
    admin.ok("PATCH", f"contacts/{ana['id']}", {"position": "CEO"})

    card = admin.card(product, "ACME", contact_id=twin["id"], fields={"value": 100})
    admin.ok("POST", f"contacts/{ana['id']}/merge", {"other_id": twin["id"]})
    admin.ok("PATCH", f"cards/{card['id']}", {"title": "ACME Corp", "owner_id": member.user.id})
    admin.ok("PATCH", f"cards/{card['id']}", {"status_id": parked["id"]})

    task = member.task(card, "2026-12-01T10:00:00Z", repeat={"freq": "weekly"})
    member.ok("PATCH", f"tasks/{task['id']}", {"text": "Call Ana", "assignee_id": admin.user.id})
    admin.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-02T10:00:00Z"})
    admin.ok("POST", f"tasks/{task['id']}/close", {"comment": "Done by phone"})  # opens the next
    admin.ok("POST", f"tasks/{task['id']}/reopen")  # withdraws the next
    all_day = admin.task(card, "2026-12-03", all_day=True)
    admin.ok("POST", f"tasks/{all_day['id']}/postpone", {"due": "2026-12-04"})
    # E-mail to the card (docs/mail.md): a new address, then a message filed as the receiver does.
    address = admin.ok("POST", f"cards/{card['id']}/email-address/rotate")["email_address"]
    with admin.client.application.app_context():
        session = get_db().session()
        deliver(session, [address], b"Subject: Offer\r\nMessage-ID: <o@x>\r\n\r\nHello\r\n")
        session.close()
    admin.ok("POST", f"tasks/{all_day['id']}/close", {"outcome": "cancelled"})
    assert admin.delete(f"tasks/{task['id']}").status_code == 204
    note = member.ok("POST", f"cards/{card['id']}/notes", {"body": "Met *Ana*"})
    admin.ok("PATCH", f"notes/{note['id']}", {"body": "Met Ana", "mentions": [member.user.id]})
    assert admin.delete(f"notes/{note['id']}").status_code == 204
    upload = {"file": (io.BytesIO(b"%PDF-1.4 offer"), "offer.pdf")}
    added = admin.ok("POST", f"cards/{card['id']}/files", None, data=upload, status=201)
    assert admin.delete(f"files/{added['id']}").status_code == 204

    first = product["statuses"][0]
    assert admin.delete(f"statuses/{parked['id']}?move_to={first['id']}").status_code == 204
    assert admin.delete(f"cards/{card['id']}").status_code == 204
    admin.ok("POST", f"cards/{card['id']}/restore")
    assert admin.delete(f"cards/{card['id']}").status_code == 204
    assert admin.delete(f"cards/{card['id']}?purge=true").status_code == 204

    cards_csv = f"products/{product['id']}/cards.csv"
    csv_import(admin, cards_csv, "title,status\r\nGlobex,Lead\r\n")
    exported = admin.get(cards_csv).get_data(as_text=True)
    csv_import(admin, cards_csv, exported.replace("Globex", "Globex Ltd").replace("Lead", "Won"))
    csv_import(admin, "contacts.csv", "name,emails\r\nIon Ionescu,ion@example.com\r\n")
    exported = admin.get("contacts.csv").get_data(as_text=True)
    csv_import(admin, "contacts.csv", exported.replace("Ion Ionescu", "Ion I. Ionescu"))

    assert admin.delete(f"contacts/{ana['id']}?force=true").status_code == 204
    assert admin.delete(f"products/{product['id']}?force=true").status_code == 204


def test_every_event_core_records_fits_the_contract_and_every_type_is_recorded(admin, new_user):
    use_core_as_a_team_would(admin, new_user("member@example.com"))
    events = recorded_events(admin)
    for event in events:
        try:
            validate_event(event["type"], event["data"])
        except EventContractError as error:
            pytest.fail(f"event {event['id']} {event['type']}: {error.messages}")
    never_recorded = set(EventType) - {event["type"] for event in events}
    assert never_recorded == set(), "the contract lists types core did not emit"


def test_every_event_has_its_own_uuid_beside_its_integer_id(admin, new_user):
    """The feed's items are ``{"id", "uid", "type", "at", "actor_id", "data"}``: ``id`` the
    cursor, ``uid`` a UUID no other event has (bulk CSV imports included)."""
    use_core_as_a_team_would(admin, new_user("member@example.com"))
    events = recorded_events(admin)
    assert all(set(event) == {"id", "uid", "type", "at", "actor_id", "data"} for event in events)
    uids = [event["uid"] for event in events]
    assert all(str(uuid.UUID(uid)) == uid for uid in uids)
    assert len(set(uids)) == len(uids) == len(events)


def test_every_type_has_a_payload_schema():
    assert set(PAYLOAD_SCHEMAS) == set(EventType)


def test_the_outbox_refuses_an_unknown_type_and_a_payload_that_breaks_the_contract(app):
    with app.app_context():
        session = get_db().session()
        try:
            with pytest.raises(EventContractError, match="unknown event type"):
                record_event(session, "card.trashed", {"id": 1})  # type: ignore[arg-type]
            with pytest.raises(EventContractError, match="product_id"):
                record_event(session, EventType.CARD_PURGED, {"id": 1})
            assert not session.info.get("pending_events")
        finally:
            session.close()


def test_a_payload_with_a_key_the_contract_lacks_is_refused():
    task = {
        "id": 1,
        "card_id": 2,
        "product_id": 3,
        "text": "Call",
        "type": "call",
        "assignee_id": None,
        "due": "2026-12-01T10:00:00Z",
        "due_date": None,
        "all_day": False,
        "status": "open",
        "closed_at": None,
        "closed_by_id": None,
        "postponed_count": 0,
        "repeat": None,
        "created_at": "2026-11-30T10:00:00Z",
        "updated_at": "2026-11-30T10:00:00Z",
        "version": 1,
    }
    assert validate_event("task.closed", task) is EventType.TASK_CLOSED
    with pytest.raises(EventContractError, match="Unknown field"):
        validate_event("task.closed", {**task, "priority": "high"})
    with pytest.raises(EventContractError, match="status"):
        validate_event("task.closed", {**task, "status": "finished"})


def test_docs_events_md_lists_exactly_the_event_types():
    types_section = DOCS.read_text().split("\n## Types\n")[1].split("\n## ")[0]
    documented = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", types_section, re.MULTILINE)
    assert sorted(documented) == sorted(str(kind) for kind in EventType)
