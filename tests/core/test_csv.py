"""CSV import and export of cards and contacts: a file with a bad row writes nothing, every bad
row reported with its line, spreadsheet files as Excel writes them, exports streamed in
batches (limits, batches and cells: test_csv_import_load.py, test_csv_cells.py)."""

from __future__ import annotations

import csv
import inspect
import io
from typing import Any

import pytest
from cardcrm.common.db import get_db
from cardcrm.core.csv_io.views import bp
from sqlalchemy import event

from .csv_helpers import imported, upload

EVERY_TYPE = [
    {"key": "notes", "label": "Notes", "type": "text"},
    {"key": "seats", "label": "Seats", "type": "number"},
    {"key": "value", "label": "Deal value", "type": "money"},
    {"key": "close_on", "label": "Close on", "type": "date"},
    {"key": "demo_at", "label": "Demo at", "type": "datetime"},
    {"key": "source", "label": "Source", "type": "choice", "choices": ["Web", "Fair"]},
    {"key": "tags", "label": "Tags", "type": "multichoice", "choices": ["a", "b", "c"]},
    {"key": "signed", "label": "Signed", "type": "checkbox"},
    {"key": "mail", "label": "Mail", "type": "email"},
    {"key": "phone", "label": "Phone", "type": "phone"},
    {"key": "site", "label": "Site", "type": "url"},
]
STATUSES = [
    {"name": "Lead", "group": "inactive"},
    {"name": "Talking", "group": "in_progress"},
    {"name": "Won", "group": "positive"},
    {"name": "Lost", "group": "negative"},
]


@pytest.fixture(autouse=True)
def csv_routes(app: Any) -> None:
    """The CSV endpoints, on the app as ``_register_api`` will mount them."""
    if "csv_io" not in app.blueprints:
        app.register_blueprint(bp, url_prefix="/api/v1")


def refused(api: Any, path: str, body: str | bytes, **query: Any) -> list[dict]:
    response = upload(api, path, body, **query)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    return response.get_json()["errors"]


def download(api: Any, path: str, **query: Any) -> list[dict[str, str]]:
    response = api.get(path, query_string=query)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def lines(*rows: str) -> str:
    return "\r\n".join(rows) + "\r\n"


def custom_product(api: Any, fields: list[dict] | None = None) -> dict:
    return api.product(None, statuses=STATUSES, fields=EVERY_TYPE if fields is None else fields)


def cards_of(api: Any, product: dict) -> list[dict]:
    return api.ok("GET", f"products/{product['id']}/cards?limit=500")["items"]


# --- importing cards ------------------------------------------------------------------------------


def test_a_file_with_bad_rows_writes_nothing_and_reports_every_bad_row_with_its_line(admin):
    product = custom_product(admin)
    path = f"products/{product['id']}/cards.csv"
    body = lines(
        "title,status,owner,field:seats,field:source,field:close_on",
        "Good one,Lead,admin@example.com,3,Web,2026-12-01",
        "Bad status,Negotiating,,,,",
        ",Lead,,,,",
        "Bad owner,Lead,nobody@example.com,,,",
        "Good two,,,,,",
        "Bad values,Won,,three,Radio,2026-13-45",
        "Too many,Lead,,,,,extra",
    )

    errors = refused(admin, path, body)

    assert [error["line"] for error in errors] == [3, 4, 5, 7, 8]
    messages = {error["line"]: error["message"] for error in errors}
    assert "no status 'Negotiating'" in messages[3] and "Lead, Talking, Won, Lost" in messages[3]
    assert messages[4].startswith("title:")
    assert "nobody@example.com" in messages[5]
    assert "field:seats" in messages[7]
    assert "field:source" in messages[7] and "field:close_on" in messages[7]
    assert "7 cells" in messages[8]
    assert cards_of(admin, product) == []
    assert admin.ok("GET", "events?after=0&limit=1000")["items"][-1]["type"] == "product.created"


def test_line_numbers_are_the_spreadsheets_rows_even_with_line_breaks_in_a_cell(admin):
    product = custom_product(admin)
    body = lines("title,field:notes", 'Two lines,"first\nsecond"', "", "Bad,", ",no title")

    errors = refused(admin, f"products/{product['id']}/cards.csv", body)

    # The blank line is row 3 in a spreadsheet; the cell with a line break stays on row 2.
    assert [error["line"] for error in errors] == [5]


def test_unknown_columns_are_reported_on_the_header_line(admin):
    product = custom_product(admin)

    errors = refused(admin, f"products/{product['id']}/cards.csv", lines("title,colour", "A,red"))

    assert errors == [
        {"line": 1, "message": errors[0]["message"]},
    ]
    assert "Unknown column 'colour'" in errors[0]["message"]
    assert "field:seats" in errors[0]["message"]  # the columns the product takes


def test_an_import_creates_every_row_with_its_history_and_events(admin, member):
    product = custom_product(admin)
    contact = admin.ok("POST", "contacts", {"name": "Ana Pop", "emails": ["ana@example.com"]})
    body = lines(
        "title,status,owner,contact,field:seats,field:tags,field:signed",
        "First,Talking,member@example.com,Ana Pop,12,a; c,yes",
        "Second,,,,,,",
    )

    result = imported(admin, f"products/{product['id']}/cards.csv", body)

    assert result == {"created": 2, "updated": 0, "unchanged": 0, "dry_run": False, "errors": []}
    first, second = sorted(cards_of(admin, product), key=lambda card: card["id"])
    statuses = {status["name"]: status["id"] for status in product["statuses"]}
    assert first["status_id"] == statuses["Talking"] and second["status_id"] == statuses["Lead"]
    assert first["owner_id"] == member.user.id and first["contact_id"] == contact["id"]
    assert first["fields"] == {"seats": 12.0, "tags": ["a", "c"], "signed": True}
    events = admin.ok("GET", "events?after=0&limit=1000")["items"]
    created = [event for event in events if event["type"] == "card.created"]
    assert [event["data"]["title"] for event in created] == ["First", "Second"]
    assert created[0]["actor_id"] == admin.user.id
    history = admin.ok("GET", f"cards/{first['id']}/history")["items"]
    assert [row["type"] for row in history] == ["card.created"]


def test_names_in_any_alphabet_come_through_an_import_and_an_export(admin):
    product = custom_product(admin)
    admin.ok("POST", "contacts", {"name": "Ștefan Ionescu"})
    body = lines(
        "title,contact,field:notes",
        'Ștefan Ionescu – ofertă,Ștefan Ionescu,"Întâlnire la Iași, apoi 東京"',
        '日本の取引,,"価格は ¥1,000"',
    )

    assert imported(admin, f"products/{product['id']}/cards.csv", body)["created"] == 2

    rows = download(admin, f"products/{product['id']}/cards.csv")
    assert [(row["title"], row["contact"], row["field:notes"]) for row in rows] == [
        ("Ștefan Ionescu – ofertă", "Ștefan Ionescu", "Întâlnire la Iași, apoi 東京"),
        ("日本の取引", "", "価格は ¥1,000"),
    ]


def test_an_excel_file_with_a_bom_and_semicolons_imports(admin):
    product = custom_product(admin)
    text = lines(
        "Title;Status;Deal value;Seats;Close on;Tags",
        "Școala Nr. 5;Won;1 250,50;2,5;2026-12-01;a",
        '"Café; Bar";Lost;99;;;"b; c"',
    )
    body = "\ufeff".encode() + text.encode("utf-8")

    assert imported(admin, f"products/{product['id']}/cards.csv", body)["created"] == 2

    cards = sorted(cards_of(admin, product), key=lambda card: card["id"])
    assert [card["title"] for card in cards] == ["Școala Nr. 5", "Café; Bar"]
    assert cards[0]["fields"] == {
        "value": "1250.50",
        "seats": 2.5,
        "close_on": "2026-12-01",
        "tags": ["a"],
    }
    assert cards[1]["fields"] == {"value": "99.00", "tags": ["b", "c"]}


def test_a_file_that_is_not_utf8_is_refused_with_a_hint(admin):
    product = custom_product(admin)
    body = "title\r\nȘcoala\r\n".encode() + "Café\r\n".encode("cp1252")  # saved as ANSI

    [error] = refused(admin, f"products/{product['id']}/cards.csv", body)

    assert error["line"] == 3 and "UTF-8" in error["message"]


def test_reimporting_an_exported_file_updates_the_cards_in_place(admin, member):
    product = custom_product(admin)
    path = f"products/{product['id']}/cards.csv"
    imported(admin, path, lines("title,status", "Alpha,Lead", "Beta,Lead", "Gamma,Talking"))
    exported = admin.get(path).get_data(as_text=True)

    assert imported(admin, path, exported) == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "dry_run": False,
        "errors": [],
    }

    rows = list(csv.DictReader(io.StringIO(exported)))
    rows[0]["title"] = "Alpha (renamed)"
    rows[1]["status"] = "Won"
    rows[2]["owner"] = "member@example.com"
    rows.append({**{key: "" for key in rows[0]}, "title": "Delta"})
    result = imported(admin, path, to_csv(rows))

    assert (result["created"], result["updated"], result["unchanged"]) == (1, 3, 0)
    cards = {card["title"]: card for card in cards_of(admin, product)}
    assert sorted(cards) == ["Alpha (renamed)", "Beta", "Delta", "Gamma"]
    assert cards["Beta"]["status_group"] == "positive"
    assert cards["Gamma"]["owner_id"] == member.user.id
    assert cards["Alpha (renamed)"]["version"] == 2
    beta_history = admin.ok("GET", f"cards/{cards['Beta']['id']}/history")["items"]
    assert [row["type"] for row in beta_history] == ["card.created", "card.status_changed"]
    wall = admin.ok("GET", "events?after=0&limit=1000")["items"]
    assert [event["type"] for event in wall].count("card.status_changed") == 1


def test_a_stale_file_does_not_overwrite_a_newer_change(admin):
    product = custom_product(admin)
    path = f"products/{product['id']}/cards.csv"
    imported(admin, path, lines("title", "Alpha", "Beta"))
    rows = download(admin, path)
    admin.ok("PATCH", f"cards/{rows[0]['id']}", {"title": "Alpha, edited on the web"})

    rows[1]["title"] = "Beta, edited in the sheet"
    errors = refused(admin, path, to_csv(rows))

    assert [error["line"] for error in errors] == [2]
    assert "changed since this file was exported" in errors[0]["message"]
    rows[0]["version"] = ""  # the user chooses to overwrite
    assert imported(admin, path, to_csv(rows))["updated"] == 2


def test_a_round_trip_export_import_loses_nothing(admin, member):
    product = custom_product(admin)
    ana = admin.ok("POST", "contacts", {"name": "Ana Pop"})
    statuses = {status["name"]: status["id"] for status in product["statuses"]}
    values = {
        "notes": '  Line one\nline "two", =not a formula',
        "seats": 2.5,
        "value": "-1250.50",
        "close_on": "2026-12-01",
        "demo_at": "2026-11-27T07:30:00+00:00",
        "source": "Fair",
        "tags": ["a", "c"],
        "signed": False,
        "mail": "deal@example.com",
        "phone": "+40 721 000 111",
        "site": "https://example.com/a?b=c",
    }
    admin.card(
        product,
        '=HYPERLINK("http://evil")',
        status_id=statuses["Won"],
        owner_id=member.user.id,
        contact_id=ana["id"],
        fields=values,
    )
    admin.card(product, "Plain", fields={"seats": 3})
    exported = admin.get(f"products/{product['id']}/cards.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in exported  # a spreadsheet shows it as text, never runs it

    # Into a second product with the same fields: ids are of the first, so drop them.
    copy = custom_product(admin)
    rows = [{**row, "id": "", "version": ""} for row in csv.DictReader(io.StringIO(exported))]
    assert imported(admin, f"products/{copy['id']}/cards.csv", to_csv(rows))["created"] == 2

    def essentials(card: dict, product: dict) -> tuple:
        names = {status["id"]: status["name"] for status in product["statuses"]}
        return (card["title"], names[card["status_id"]], card["owner_id"], card["contact_id"],
                card["fields"])  # fmt: skip

    original = sorted(essentials(card, product) for card in cards_of(admin, product))
    copied = sorted(essentials(card, copy) for card in cards_of(admin, copy))
    assert copied == original
    assert ('=HYPERLINK("http://evil")', "Won", member.user.id, ana["id"], values) in copied
    # ...and the same file back into the first product changes nothing.
    assert imported(admin, f"products/{product['id']}/cards.csv", exported)["unchanged"] == 2


def test_a_dry_run_counts_what_would_change_and_writes_nothing(admin):
    product = custom_product(admin)
    path = f"products/{product['id']}/cards.csv"
    imported(admin, path, lines("title", "Alpha"))
    [row] = download(admin, path)
    last_event = admin.ok("GET", "events?after=0&limit=1000")["last_id"]

    body = lines("id,title", f"{row['id']},Alpha renamed", ",Beta", ",Gamma")
    result = imported(admin, path, body, dry_run=True)

    assert result == {"created": 2, "updated": 1, "unchanged": 0, "dry_run": True, "errors": []}
    assert [card["title"] for card in cards_of(admin, product)] == ["Alpha"]
    assert admin.ok("GET", f"events?after={last_event}")["items"] == []
    # A dry run of a bad file reports its bad rows the same way.
    assert refused(admin, path, lines("title,status", "X,Nope"), dry_run=True)[0]["line"] == 2


def test_rows_naming_cards_of_another_product_or_the_trash_are_refused(admin):
    product, other = custom_product(admin), custom_product(admin)
    theirs = admin.card(other, "Theirs")
    trashed = admin.card(product, "Trashed")
    admin.ok("DELETE", f"cards/{trashed['id']}", status=204)
    mine = admin.card(product, "Mine")

    body = lines(
        "id,title",
        f"{theirs['id']},Stolen",
        f"{trashed['id']},Back",
        f"{mine['id']},Once",
        f"{mine['id']},Twice",
        "12abc,Bad id",
    )
    errors = refused(admin, f"products/{product['id']}/cards.csv", body)

    assert [error["line"] for error in errors] == [2, 3, 5, 6]
    assert "no card" in errors[0]["message"]
    assert "trash" in errors[1]["message"]
    assert "line 4" in errors[2]["message"]


def test_a_plugin_veto_is_a_bad_row(app, admin):
    product = admin.product("invoices")
    errors = refused(
        admin,
        f"products/{product['id']}/cards.csv",
        lines("title,status,field:amount", "No amount,Sent,", "With amount,Sent,100"),
    )

    assert errors == [
        {"line": 2, "message": "status: An invoice needs an amount before it is sent."}
    ]


def test_cards_are_matched_to_contacts_by_name_or_id(admin):
    product = custom_product(admin)
    ana = admin.ok("POST", "contacts", {"name": "Ana Pop"})
    twin = admin.ok("POST", "contacts", {"name": "Ion Ionescu"})
    admin.ok("POST", "contacts", {"name": "Ion Ionescu"})
    path = f"products/{product['id']}/cards.csv"

    errors = refused(
        admin,
        path,
        lines(
            "title,contact,contact_id",
            "A,Ana Pop,",
            "B,Ion Ionescu,",
            f"C,Ion Ionescu,{twin['id']}",
            f"D,Somebody Else,{ana['id']}",
            "E,Nobody,",
        ),
    )

    assert [error["line"] for error in errors] == [3, 5, 6]
    assert "2 contacts are named 'Ion Ionescu'" in errors[0]["message"]
    assert "is not the name of contact" in errors[1]["message"]
    assert "no contact is named 'Nobody'" in errors[2]["message"]


def test_field_columns_may_be_named_by_key_or_label(admin):
    product = custom_product(admin)
    body = lines("Title,seats,Deal value,FIELD:source", "A,1,10,Web")

    imported(admin, f"products/{product['id']}/cards.csv", body)

    [card] = cards_of(admin, product)
    assert card["fields"] == {"seats": 1.0, "value": "10.00", "source": "Web"}


# --- exporting cards ------------------------------------------------------------------------------


def test_exporting_thousands_of_cards_streams_them_in_batches(app, admin):
    product = custom_product(admin, fields=[{"key": "n", "label": "N", "type": "number"}])
    path = f"products/{product['id']}/cards.csv"
    total = 2_345
    body = lines("title,field:n", *(f"Card {index},{index}" for index in range(total)))
    assert imported(admin, path, body)["created"] == total

    with app.app_context():
        engine = get_db().engine
    statements: list[str] = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        response = admin.get(path, buffered=False)
        assert response.is_streamed
        pieces = list(response.response)
    finally:
        event.remove(engine, "before_cursor_execute", remember)

    # The header, then one piece per batch of 1,000 cards: never the whole list at once.
    assert len(pieces) == 1 + 3
    rows = list(csv.DictReader(io.StringIO(b"".join(pieces).decode())))
    assert len(rows) == total
    assert [row["field:n"] for row in rows[:3]] == ["0", "1", "2"]
    card_reads = [sql for sql in statements if "FROM cards" in sql]
    assert len(card_reads) == 3


def test_the_export_view_returns_a_generator(app, admin):
    product = custom_product(admin)
    with app.test_request_context(
        f"/api/v1/products/{product['id']}/cards.csv",
        headers={"Authorization": f"Bearer {admin.token}"},
    ):
        response = app.view_functions["csv_io.export_product_cards"](product_id=product["id"])
        assert inspect.isgenerator(response.response)
        assert next(response.response).startswith("id,title,status,status_group,owner,contact")
        response.close()  # a client that goes away: the export's session is closed


def test_the_export_takes_the_card_lists_filters_and_an_excel_bom(admin):
    product = custom_product(admin)
    path = f"products/{product['id']}/cards.csv"
    imported(admin, path, lines("title,status", "A,Lead", "B,Won", "C,Won"))
    won = next(status["id"] for status in product["statuses"] if status["name"] == "Won")

    assert [row["title"] for row in download(admin, path, status_id=won)] == ["B", "C"]
    assert [row["title"] for row in download(admin, path, q="a")] == ["A"]
    assert admin.get(path, query_string={"bom": "true"}).data.startswith(b"\xef\xbb\xbfid,")
    assert admin.get(path, query_string={"group": "nonsense"}).status_code == 422


def test_the_export_has_only_the_cards_the_caller_may_see(admin, new_user):
    product = custom_product(admin)
    path = f"products/{product['id']}/cards.csv"
    limited, outsider = new_user("limited@example.com"), new_user("outsider@example.com")
    admin.ok(
        "PUT",
        f"products/{product['id']}/members",
        {"items": [{"user_id": limited.user.id, "own_cards_only": True}]},
    )
    imported(
        admin,
        path,
        lines(
            "title,owner", "Theirs,limited@example.com", "Nobody's,", "Admin's,admin@example.com"
        ),
    )

    assert sorted(row["title"] for row in download(limited, path)) == ["Nobody's", "Theirs"]
    assert len(download(admin, path)) == 3
    assert outsider.get(path).status_code == 404
    assert upload(outsider, path, lines("title", "Sneaky")).status_code == 404
    # A limited member may import, but not touch a card they do not see.
    admins = next(row for row in download(admin, path) if row["title"] == "Admin's")
    errors = refused(limited, path, lines("id,title", f"{admins['id']},Mine now"))
    assert "no card" in errors[0]["message"]
    errors = refused(limited, path, lines("title,owner", "For the boss,admin@example.com"))
    assert errors[0]["message"].startswith("owner: You see only your own cards here")
    assert (
        imported(limited, path, lines("title,owner", "Mine,limited@example.com", "Open,"))[
            "created"
        ]
        == 2
    )


def test_an_import_body_over_the_csv_size_limit_is_refused(app, admin):
    app.config["CSV_MAX_BYTES"] = 1024 * 1024
    product = custom_product(admin)
    body = lines("title", *(["x" * 400] * 3000))

    response = upload(admin, f"products/{product['id']}/cards.csv", body)

    assert response.status_code == 413
    assert cards_of(admin, product) == []


def test_a_form_upload_imports_too(admin):
    product = custom_product(admin)
    response = admin.request(
        "POST",
        f"products/{product['id']}/cards.csv",
        data={"file": (io.BytesIO(lines("title", "From a form").encode()), "cards.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert [card["title"] for card in cards_of(admin, product)] == ["From a form"]


# --- contacts -------------------------------------------------------------------------------------


def test_contacts_round_trip_through_csv(admin):
    acme = admin.ok(
        "POST",
        "contacts",
        {
            "kind": "company",
            "name": "Acme SRL",
            "registration_number": "RO123",
            "address": "Str. Lungă 1,\nIași",
            "website": "https://acme.example",
            "fields": {"size": "large"},
        },
    )
    admin.ok(
        "POST",
        "contacts",
        {
            "name": "Ștefan Ionescu",
            "emails": ["stefan@example.com", "s.i@example.com"],
            "phones": ["+40 721 000 111"],
            "company_id": acme["id"],
            "position": "CEO",
            "notes": "Met at the fair; likes 日本茶",
        },
    )
    before = sorted_contacts(admin)
    exported = admin.get("contacts.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [row["name"] for row in rows] == ["Acme SRL", "Ștefan Ionescu"]
    assert (
        rows[1]["company"] == "Acme SRL"
        and rows[1]["emails"] == "stefan@example.com; s.i@example.com"
    )

    assert imported(admin, "contacts.csv", exported)["unchanged"] == 2
    assert sorted_contacts(admin) == before

    # Into an empty database's worth of contacts: the person finds the company by its name.
    for contact in before[::-1]:
        admin.ok("DELETE", f"contacts/{contact['id']}?force=true", status=204)
    fresh = [{**row, "id": "", "company_id": "", "version": ""} for row in rows]
    assert imported(admin, "contacts.csv", to_csv(fresh))["created"] == 2
    after = sorted_contacts(admin)
    company_ids = {contact["name"]: contact["id"] for contact in after}
    assert after[1]["company_id"] == company_ids["Acme SRL"]
    assert [strip_ids(contact) for contact in after] == [strip_ids(contact) for contact in before]


def test_a_contact_with_a_known_email_is_a_bad_row_unless_duplicates_are_allowed(admin):
    ana = admin.ok("POST", "contacts", {"name": "Ana", "emails": ["ana@example.com"]})
    body = lines(
        "name,emails,phones",
        "Ana again,ANA@example.com,",
        "Bob,bob@example.com,0721 000 111",
        "Bobby,,+40 721 000 111",
    )

    errors = refused(admin, "contacts.csv", body)

    assert [error["line"] for error in errors] == [2, 4]
    assert f"id {ana['id']}" in errors[0]["message"]
    assert "line 3" in errors[1]["message"]
    assert imported(admin, "contacts.csv", body, allow_duplicate=True)["created"] == 3
    # With the id the row updates the existing contact.
    body = lines("id,name,emails", f"{ana['id']},Ana Pop,ana@example.com; pop@example.com")
    assert imported(admin, "contacts.csv", body)["updated"] == 1
    assert admin.ok("GET", f"contacts/{ana['id']}")["emails"] == [
        "ana@example.com",
        "pop@example.com",
    ]


def test_bad_contact_rows_are_all_reported(admin):
    body = lines(
        "kind,name,emails,website,company,fields",
        "person,Ana,not-an-email,,,",
        "robot,R2,,,,",
        "company,Acme,,ftp://acme,,",
        "person,,,,,",
        "person,Ion,,,No Such SRL,",
        "person,Eva,,,,[1]",
    )

    errors = refused(admin, "contacts.csv", body)

    assert [error["line"] for error in errors] == [2, 3, 4, 5, 6, 7]
    assert errors[0]["message"].startswith("emails:")
    assert "robot" in errors[1]["message"]
    assert errors[2]["message"].startswith("website:")
    assert "name" in errors[3]["message"]
    assert "No Such SRL" in errors[4]["message"]
    assert errors[5]["message"].startswith("fields:")
    assert admin.ok("GET", "contacts")["items"] == []


def test_a_contacts_dry_run_writes_nothing(admin):
    result = imported(admin, "contacts.csv", lines("name", "Ana", "Bob"), dry_run=True)

    assert (result["created"], result["dry_run"]) == (2, True)
    assert admin.ok("GET", "contacts")["items"] == []


# --- helpers --------------------------------------------------------------------------------------


def to_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def sorted_contacts(api: Any) -> list[dict]:
    return sorted(api.ok("GET", "contacts")["items"], key=lambda contact: contact["id"])


def strip_ids(contact: dict) -> dict:
    skip = {"id", "company_id", "created_at", "updated_at", "version"}
    return {key: value for key, value in contact.items() if key not in skip}


def test_the_openapi_document_describes_the_csv_endpoints(admin):
    from openapi_spec_validator import validate

    document = admin.ok("GET", "openapi.json")
    validate(document)
    cards = document["paths"]["/api/v1/products/{product_id}/cards.csv"]
    assert set(cards) == {"get", "post"}
    assert "413" in cards["post"]["responses"]
    assert set(document["paths"]["/api/v1/contacts.csv"]) == {"get", "post"}
