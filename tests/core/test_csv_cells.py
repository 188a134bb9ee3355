"""What a CSV cell may hold: control characters are bad rows on import, and an export keeps
every formula-like cell text (a leading quote), while numbers and phones stay readable."""

from __future__ import annotations

import csv
import io

import pytest
from cardcrm.core.csv_io.formulas import escape, is_formula_like, unescape

from .csv_helpers import cards_of, download, imported, lines, refused, sales_product, to_csv


@pytest.mark.parametrize("character", ["\x0b", "\x00", "\x1b", "\x7f", "\x85", "\x9f"], ids=repr)
def test_a_control_character_in_a_cell_is_a_bad_row_with_its_line_and_column(admin, character):
    product = sales_product(admin)
    body = to_csv(
        [
            ["title", "status", "field:notes"],
            ["Fine", "Lead", "tab\tand\r\nline breaks are text"],
            [f"Bad{character}title", "Lead", ""],
            ["Fine too", "Lead", f"notes{character}"],
        ]
    )

    problem = refused(admin, f"products/{product['id']}/cards.csv", body)

    code = f"U+{ord(character):04X}"
    assert problem["errors"] == [
        {"line": 3, "message": f"title: Contains a control character ({code}); remove it."},
        {"line": 4, "message": f"field:notes: Contains a control character ({code}); remove it."},
    ]
    assert cards_of(admin, product) == []


def test_control_characters_in_contacts_and_in_ignored_columns_are_bad_rows(admin):
    body = to_csv(
        [
            ["name", "notes", "version"],
            ["Ana\x07", "", ""],
            ["Bob", "line\x0cfeed", "1\x7f"],
        ]
    )

    problem = refused(admin, "contacts.csv", body)

    assert [error["line"] for error in problem["errors"]] == [2, 3]
    assert problem["errors"][0]["message"] == (
        "name: Contains a control character (U+0007); remove it."
    )
    assert problem["errors"][1]["message"].startswith(
        "notes: Contains a control character (U+000C)"
    )
    assert "version: Contains a control character (U+007F)" in problem["errors"][1]["message"]
    assert admin.ok("GET", "contacts")["items"] == []


def test_a_lone_surrogate_is_not_utf8_and_refused_with_its_line(admin):
    product = sales_product(admin)
    body = b"title\r\nFine\r\nBad \xed\xa0\x80 surrogate\r\n"  # U+D800 as UTF-8 would write it

    problem = refused(admin, f"products/{product['id']}/cards.csv", body)

    assert problem["errors"][0]["line"] == 3 and "UTF-8" in problem["errors"][0]["message"]
    assert cards_of(admin, product) == []


DANGEROUS = [
    "=1+1",
    ' =HYPERLINK("http://evil.example")',
    "\u3000=1+1",  # an ideographic space first
    "\uff1d1+1",  # a full-width =
    "\uff0bcmd",  # a full-width +
    "\uff0d1",  # a full-width -
    "\uff20SUM(A1)",  # a full-width @
    "\n=1+1",
    "\t=1+1",
    "\r=1+1",
    "\tjust a tab first",
    "@SUM(A1:A9)",
    "-1-1",  # a sum, not a number
    "+40 721 000 111",  # a phone a spreadsheet reads as a (broken) formula
    "'=already quoted",  # a value that really starts with a quote keeps it
    "\u200b=1+1",  # a zero-width space first
    "\u200b \u200b=1+1",  # blanks and zero-width characters in turn
    " \ufeff\u3000\u200d=1+1",
]
SAFE = ["-5", "-1250.50", "+3", "-1e+20", "0721 000 111", "Plain = text", "", "'quoted text"]


@pytest.mark.parametrize("value", DANGEROUS, ids=repr)
def test_formula_like_cells_get_a_quote_that_an_import_takes_off(value):
    assert escape(value) == "'" + value
    assert unescape(escape(value)) == value


@pytest.mark.parametrize("value", SAFE, ids=repr)
def test_numbers_phones_without_a_sign_and_plain_text_are_left_alone(value):
    assert not is_formula_like(value)
    assert escape(value) == value and unescape(value) == value


def test_an_export_neutralises_formulas_in_every_form_and_round_trips(admin):
    product = sales_product(admin)
    path = f"products/{product['id']}/cards.csv"
    for number, value in enumerate(DANGEROUS):
        admin.card(product, f"Card {number}", fields={"notes": value})
    admin.card(product, " =1+1", fields={"phone": "+40 721 000 111", "value": "-1250.50"})
    admin.card(product, "\uff1dcmd|' /C calc'!A0", fields={"phone": "0721 000 111"})

    exported = download(admin, path)

    rows = list(csv.DictReader(io.StringIO(exported)))
    for row, value in zip(rows, DANGEROUS, strict=False):
        assert row["field:notes"] == "'" + value, value
    phone_row, width_row = rows[-2], rows[-1]
    assert phone_row["title"] == "' =1+1"
    assert phone_row["field:phone"] == "'+40 721 000 111"  # shown as +40 721 000 111
    assert phone_row["field:value"] == "-1250.50"  # a number stays a number
    assert width_row["title"] == "'\uff1dcmd|' /C calc'!A0"
    assert width_row["field:phone"] == "0721 000 111"
    # The same file back changes nothing: the quotes come off again.
    assert imported(admin, path, exported)["unchanged"] == len(DANGEROUS) + 2


def test_the_contacts_export_quotes_phones_that_start_with_a_plus(admin):
    admin.ok(
        "POST",
        "contacts",
        {"name": "=Ana", "phones": ["+40 721 000 111", "0722 000 222"], "notes": "\n@home"},
    )
    admin.ok("POST", "contacts", {"name": "Bob", "phones": ["0723 000 333"]})

    exported = download(admin, "contacts.csv")

    ana, bob = csv.DictReader(io.StringIO(exported))
    assert ana["name"] == "'=Ana" and ana["notes"] == "'\n@home"
    assert ana["phones"] == "'+40 721 000 111; 0722 000 222"
    assert bob["phones"] == "0723 000 333"
    assert imported(admin, "contacts.csv", exported)["unchanged"] == 2


def test_a_quoted_cell_of_a_file_imports_without_its_quote(admin):
    product = sales_product(admin)
    body = lines("title,field:phone", "' =1+1,'+40 721 000 111", "'plain,0721 000 111")

    imported(admin, f"products/{product['id']}/cards.csv", body)

    cards = sorted(cards_of(admin, product), key=lambda card: card["id"])
    assert [(card["title"], card["fields"]["phone"]) for card in cards] == [
        (" =1+1", "+40 721 000 111"),
        ("'plain", "0721 000 111"),
    ]
