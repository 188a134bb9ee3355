"""A CSV import by any member must not take the service down: it is bounded in size and rows,
checked without holding SQLite's write lock, written in short batches that let other writers
in, and still writes exactly what the one card-write path writes (history, events)."""

from __future__ import annotations

import io
import sqlite3
from typing import Any

import pytest
from cardcrm.common.db import get_db
from cardcrm.common.errors import ConfigurationError
from cardcrm.common.plugins import hookimpl
from cardcrm.core.auth.models import User
from cardcrm.core.cards.service import update_card
from cardcrm.core.csv_io import batches
from sqlalchemy import event

from .csv_helpers import (
    cards_of,
    events_after,
    imported,
    last_event_id,
    lines,
    refused,
    sales_product,
)


def sqlite_file(app: Any) -> str:
    with app.app_context():
        engine = get_db().engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    return str(engine.url.database)


def test_a_member_imports_a_file_over_one_mebibyte_within_the_csv_limit(admin, member):
    product = sales_product(admin)
    admin.grant(product, member)
    body = lines("title,field:notes", *(f"Card {n},{'x' * 400}" for n in range(3000)))
    assert len(body) > 1024 * 1024  # over the 1 MiB every other request is limited to

    result = imported(member, f"products/{product['id']}/cards.csv", body)

    assert result["created"] == 3000


def test_a_file_over_the_size_limit_is_refused_with_413_and_writes_nothing(app, admin, member):
    app.config["CSV_MAX_BYTES"] = 10_000
    product = sales_product(admin)
    admin.grant(product, member)
    path = f"products/{product['id']}/cards.csv"
    body = lines("title", *(f"Card number {n}" for n in range(1000)))

    problem = refused(member, path, body, status=413)
    as_form = member.request(
        "POST",
        path,
        data={"file": (io.BytesIO(body.encode()), "cards.csv")},
        content_type="multipart/form-data",
    )

    assert "CARDCRM_CSV_MAX_MB" in problem["detail"] and problem["max_bytes"] == 10_000
    assert as_form.status_code == 413 and "CARDCRM_CSV_MAX_MB" in as_form.get_json()["detail"]
    assert cards_of(admin, product) == []


def test_a_file_over_the_row_limit_is_refused_with_413_even_in_a_dry_run(app, admin, member):
    app.config["CSV_MAX_ROWS"] = 3
    product = sales_product(admin)
    admin.grant(product, member)
    path = f"products/{product['id']}/cards.csv"

    problem = refused(member, path, lines("title", "A", "B", "", "C", "D"), status=413)
    dry = refused(member, path, lines("title", "A", "B", "C", "D"), status=413, dry_run=True)

    assert "more than 3 rows" in problem["detail"] and "CARDCRM_CSV_MAX_ROWS" in problem["detail"]
    assert dry["max_rows"] == 3
    assert cards_of(admin, product) == []
    # Blank lines do not count: three rows are fine.
    assert imported(member, path, lines("title", "A", "", "B", "C"))["created"] == 3


def test_the_contacts_import_has_the_same_limits(app, member):
    app.config["CSV_MAX_ROWS"] = 2

    problem = refused(member, "contacts.csv", lines("name", "Ana", "Bob", "Eva"), status=413)

    assert "CARDCRM_CSV_MAX_ROWS" in problem["detail"]
    assert member.ok("GET", "contacts")["items"] == []


def test_the_limits_come_from_the_environment_and_bad_values_stop_the_start(tmp_path):
    from cardcrm.core.config import from_env

    def settings(**env: str) -> dict[str, Any]:
        return from_env({"CARDCRM_SECRET_KEY": "k" * 40, **env}, data=str(tmp_path))

    config = settings(CARDCRM_CSV_MAX_MB="0.5", CARDCRM_CSV_MAX_ROWS="20_000")
    defaults = settings()

    assert (config["CSV_MAX_BYTES"], config["CSV_MAX_ROWS"]) == (512 * 1024, 20_000)
    assert (defaults["CSV_MAX_BYTES"], defaults["CSV_MAX_ROWS"]) == (32 * 1024 * 1024, 100_000)
    for bad in ("0", "-1", "lots", "nan"):
        with pytest.raises(ConfigurationError, match="CARDCRM_CSV_MAX_MB"):
            settings(CARDCRM_CSV_MAX_MB=bad)


def test_a_file_with_many_bad_rows_lists_the_first_thousand_and_counts_them_all(admin):
    product = sales_product(admin)
    body = lines("title,status", *(f"Card {n},Nope" for n in range(1500)))

    problem = refused(admin, f"products/{product['id']}/cards.csv", body)

    assert problem["error_count"] == 1500 and len(problem["errors"]) == 1000
    assert problem["errors"][0]["line"] == 2 and problem["errors"][-1]["line"] == 1001
    assert "1500 line(s)" in problem["detail"] and "first 1000" in problem["detail"]


class WriterDuringTheCheck:
    """A plugin that, while the import asks it about a new card, writes to the database from
    a connection of its own that waits at most 50 ms for SQLite's write lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.outcomes: list[str] = []

    @hookimpl
    def cardcrm_validate_status_change(self, card, old_status, new_status, user):
        other = sqlite3.connect(self.path, timeout=0.05, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            self.outcomes.append("wrote")
        except sqlite3.OperationalError as error:
            self.outcomes.append(str(error))
        finally:
            other.close()
        return None


def test_checking_a_file_does_not_hold_sqlites_write_lock(app, admin, member):
    writer = WriterDuringTheCheck(sqlite_file(app))
    app.extensions["cardcrm_plugins"].register(writer)
    product = sales_product(admin)
    admin.grant(product, member)

    imported(member, f"products/{product['id']}/cards.csv", lines("title", "A", "B", "C"))

    assert writer.outcomes == ["wrote", "wrote", "wrote"]


def test_a_large_file_is_written_in_batches_each_its_own_transaction(app, admin, monkeypatch):
    monkeypatch.setattr(batches, "FIRST_BATCH", 2)
    monkeypatch.setattr(batches, "MAX_BATCH", 2)
    monkeypatch.setattr(batches, "MIN_BATCH", 2)
    product = sales_product(admin)
    with app.app_context():
        engine = get_db().engine
    commits: list[int] = []

    def count(connection: Any) -> None:
        commits.append(1)

    event.listen(engine, "commit", count)
    try:
        body = lines("title", *(f"Card {n}" for n in range(5)))
        result = imported(admin, f"products/{product['id']}/cards.csv", body)
    finally:
        event.remove(engine, "commit", count)
    assert result["created"] == 5
    assert len(commits) == 3  # 2 + 2 + 1 rows, each batch its own transaction


class EditAfterTheFirstBatch:
    """After the import's first batch commits, another user edits a card a later batch of the
    file changes (as on a busy server)."""

    def __init__(self, edit: Any) -> None:
        self.edit, self.done = edit, False

    @hookimpl
    def cardcrm_event_committed(self, event):
        if event["type"] == "card.created" and not self.done:
            self.done = True
            self.edit()


def test_a_card_edited_between_two_batches_stops_the_import_there(app, admin, monkeypatch):
    monkeypatch.setattr(batches, "FIRST_BATCH", 2)
    monkeypatch.setattr(batches, "MAX_BATCH", 2)
    monkeypatch.setattr(batches, "MIN_BATCH", 2)
    product = sales_product(admin)
    target = admin.card(product, "Edited by the file")

    def edit() -> None:  # another user's PATCH, in a session of its own
        session = get_db().session()
        try:
            actor = session.get(User, admin.user.id)
            update_card(session, actor, target["id"], {"title": "Edited on the web"}, None)
        finally:
            session.close()

    editor = EditAfterTheFirstBatch(edit)
    app.extensions["cardcrm_plugins"].register(editor)
    body = lines("id,title", ",New 1", ",New 2", f"{target['id']},From the file", ",New 3")

    problem = refused(admin, f"products/{product['id']}/cards.csv", body, status=409)

    assert problem["line"] == 4 and (problem["created"], problem["updated"]) == (2, 0)
    assert problem["errors"] == [
        {"line": 4, "message": f"card {target['id']} changed after the file was checked."}
    ]
    assert "Import the rest of the file again" in problem["detail"]
    titles = sorted(card["title"] for card in cards_of(admin, product))
    assert titles == ["Edited on the web", "New 1", "New 2"]


def test_imported_cards_record_what_the_api_records_for_each_card(admin, member):
    product = sales_product(admin)
    admin.grant(product, member)
    path = f"products/{product['id']}/cards.csv"
    ana = admin.ok("POST", "contacts", {"name": "Ana"})
    kept = admin.card(product, "Has a task", contact_ids=[ana["id"]])
    admin.task(kept, "2030-01-02T09:00:00Z")
    before = last_event_id(admin)
    statuses = {status["name"]: status["id"] for status in product["statuses"]}

    body = lines(
        "id,title,status,owner,field:value",
        ',Șantier – ofertă,Talking,member@example.com,"1 250,50"',
        f"{kept['id']},Has a task (renamed),Won,,",
    )
    result = imported(member, path, body)

    assert (result["created"], result["updated"]) == (1, 1)
    events = events_after(admin, before)
    assert [item["type"] for item in events] == [
        "card.created",
        "card.updated",
        "card.status_changed",
    ]
    assert [item["actor_id"] for item in events] == [member.user.id] * 3
    new_id = events[0]["data"]["id"]
    new_card = admin.ok("GET", f"cards/{new_id}")
    assert events[0]["data"] == new_card  # the card as the API shows it
    assert (
        new_card["fields"] == {"value": "1250.50"}
        and new_card["status_id"] == (statuses["Talking"])
    )
    changed = admin.ok("GET", f"cards/{kept['id']}")
    assert changed["next_task_due"] == "2030-01-02T09:00:00Z"
    assert changed["contact_ids"] == [ana["id"]]
    updated, moved = events[1]["data"], events[2]["data"]
    assert updated.pop("changes") == {
        "title": {"before": "Has a task", "after": "Has a task (renamed)"}
    }
    assert moved.pop("before") == {"status_id": statuses["Lead"], "status_group": "inactive"}
    assert updated == moved == changed
    history = admin.ok("GET", f"cards/{kept['id']}/history")["items"]
    assert [row["type"] for row in history][-2:] == ["card.updated", "card.status_changed"]
    assert history[-1]["data"]["to"]["name"] == "Won"
    wall = admin.ok("GET", f"cards/{new_id}/history")["items"]
    assert [(row["type"], row["data"]["card"]) for row in wall] == [("card.created", new_card)]


def test_imported_contacts_record_what_the_api_records(admin, member):
    before = last_event_id(admin)
    body = lines(
        "kind,name,emails,phones,company",
        "company,Acme SRL,,,",
        "person,Ștefan,stefan@example.com,+40 721 000 111,Acme SRL",
    )

    assert imported(member, "contacts.csv", body)["created"] == 2

    events = events_after(admin, before)
    assert [item["type"] for item in events] == ["contact.created", "contact.created"]
    acme, stefan = (admin.ok("GET", f"contacts/{item['data']['id']}") for item in events)
    assert [item["data"] for item in events] == [acme, stefan]
    assert stefan["company_id"] == acme["id"]
    # Found by the search text and refused as a duplicate by the identifiers, as if made by
    # the API.
    assert [found["id"] for found in admin.ok("GET", "contacts?q=stefan")["items"]] == [
        stefan["id"]
    ]
    assert admin.ok("GET", "contacts?q=0721000111")["items"][0]["id"] == stefan["id"]
    duplicate = admin.post("contacts", {"name": "Again", "emails": ["STEFAN@example.com"]})
    assert duplicate.status_code == 409
    history = admin.ok("GET", f"contacts/{stefan['id']}/history")["items"]
    assert [(row["type"], row["data"]) for row in history] == [
        ("contact.created", {"contact": stefan})
    ]

    before = last_event_id(admin)
    body = lines("id,name,phones,version", f"{stefan['id']},Ștefan Pop,+40 722 000 222,1")
    assert imported(member, "contacts.csv", body)["updated"] == 1
    [changed] = events_after(admin, before)
    now = admin.ok("GET", f"contacts/{stefan['id']}")
    changes = changed["data"].pop("changes")
    assert changed["data"] == now and now["version"] == 2
    assert changes == {
        "name": {"before": "Ștefan", "after": "Ștefan Pop"},
        "phones": {"before": ["+40 721 000 111"], "after": ["+40 722 000 222"]},
    }
    assert admin.ok("GET", "contacts?q=0722000222")["items"][0]["id"] == stefan["id"]
    assert admin.ok("GET", "contacts?q=0721000111")["items"] == []


def test_the_import_checks_field_values_by_the_apis_rules_exactly():
    """The import's FieldCleaner (field by field, remembered, fast paths) gives what
    clean_values and merge_fields give, values and messages, over many values of each type."""
    import random

    from cardcrm.core.cards.fields import FieldCleaner, clean_values, merge_fields
    from marshmallow import ValidationError

    definitions = [
        {"key": "notes", "label": "Notes", "type": "text"},
        {"key": "seats", "label": "Seats", "type": "number", "required": True},
        {"key": "value", "label": "Value", "type": "money"},
        {"key": "close_on", "label": "Close on", "type": "date"},
        {"key": "demo_at", "label": "Demo at", "type": "datetime"},
        {"key": "source", "label": "Source", "type": "choice", "choices": ["Web", "Fair"]},
        {"key": "tags", "label": "Tags", "type": "multichoice", "choices": ["a", "b"]},
        {"key": "signed", "label": "Signed", "type": "checkbox"},
        {"key": "mail", "label": "Mail", "type": "email"},
        {"key": "phone", "label": "Phone", "type": "phone"},
        {"key": "site", "label": "Site", "type": "url"},
    ]
    samples: dict[str, list[Any]] = {
        "notes": ["x", "", None, "a" * 10_001, "a" * 10_000, 5, "ș 東京"],
        "seats": ["3", "2.5", 3, True, "x", None, "nan"],
        "value": ["1250.5", "-3", "abc", 1.005, None, "1.005", "1.015", "-0", "007", "1e3"]
        + ["12345678901234567890.125", "1" * 25, "-1250.50", " 3", "Infinity", "NaN"],
        "close_on": ["2026-12-01", "2026-13-45", None, "2026-02-29", "2024-02-29", "20261201"]
        + ["2026-1-5", "0000-01-01", "0001-01-01", "9999-12-31", "9998-12-31"],
        "demo_at": ["2026-11-27T07:30:00+00:00", "2026-11-27T07:30:00", "x"],
        "source": ["Web", "Radio", None],
        "tags": [["a", "b"], ["z"], "a", None],
        "signed": [True, False, "yes", None, 1],
        "mail": ["a@b.example", "bad", None, "A@B.EXAMPLE", "a@b", "x" * 300 + "@b.example"],
        "phone": ["+40 721 000 111", "=1", None, "0721 000 111", "1" * 40],
        "site": ["https://x.example/a", "ftp://x", None, "https://", "http://localhost:8000/x"],
        "unknown": ["1"],
    }
    cleaner = FieldCleaner(definitions)

    def outcome(function: Any, *args: Any) -> Any:
        try:
            return ("ok", function(*args))
        except ValidationError as error:
            return ("refused", {key: sorted(map(str, v)) for key, v in error.messages.items()})

    rng = random.Random(7)
    stored = {"seats": 3.0, "gone": "kept", "value": "1.00"}
    for _ in range(2000):
        keys = rng.sample(sorted(samples), rng.randint(0, 5))
        values = {key: rng.choice(samples[key]) for key in keys}
        assert outcome(cleaner.clean, values) == outcome(clean_values, definitions, values)
        assert outcome(cleaner.merge, stored, values) == outcome(
            merge_fields, definitions, stored, values
        )
