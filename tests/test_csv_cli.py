"""``cardcrm import`` and ``cardcrm export``: CSV files of any size straight into the database,
as the first admin or as the user ``--as`` names."""

from __future__ import annotations

import csv
import io
import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from cardcrm.cli import main
from cardcrm.common.db import get_db
from cardcrm.core import create_app
from cardcrm.core.csv_cli import export_group, import_group
from cardcrm.core.products.service import create_product
from click.testing import CliRunner, Result

#: ``cardcrm`` with the import and export groups, as services/cli.py assembles it.
cli = click.Group(
    "cardcrm", commands={**main.commands, "import": import_group, "export": export_group}
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [key for key in os.environ if key.startswith("CARDCRM_")]:
        monkeypatch.delenv(key)


def cardcrm(command: str, *more: str | Path, input: str | bytes | None = None) -> Result:
    args = shlex.split(command) + [str(arg) for arg in more]
    return CliRunner().invoke(cli, args, input=input, catch_exceptions=False)


def ok(command: str, *more: str | Path, input: str | bytes | None = None) -> str:
    result = cardcrm(command, *more, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    ok("user create boss@example.com --name Boss --password s3cret-pass --admin --data", data)
    ok("user create ana@example.com --name Ana --password s3cret-pass --data", data)
    return data


@pytest.fixture
def core(data: Path) -> Iterator[Any]:
    """The core app on the same database, to set up products and look at the result."""
    app = create_app({"DATABASE_URL": f"sqlite:///{data / 'core.db'}", "SECRET_KEY": "x"})
    with app.app_context():
        session = get_db().session()
        yield session
        session.close()
    app.extensions["cardcrm_db"].dispose()


@pytest.fixture
def product(core: Any) -> Any:
    return create_product(
        core,
        None,
        {
            "name": "Deals",
            "statuses": [
                {"name": "Lead", "group": "inactive"},
                {"name": "Won", "group": "positive"},
            ],
            "fields": [{"key": "value", "label": "Value", "type": "money"}],
        },
    )


def titles(core: Any) -> list[str]:
    from cardcrm.core.cards.models import Card
    from sqlalchemy import select

    core.rollback()
    return list(core.scalars(select(Card.title).order_by(Card.id)))


def test_cards_go_in_from_a_file_and_come_out_to_another(data, core, product, tmp_path):
    source = tmp_path / "deals.csv"
    source.write_text(
        "title;status;field:value\nȘcoala;Won;1 200,50\n日本;;\n", encoding="utf-8-sig"
    )

    output = ok(f"import cards {product.id}", source, "--data", data)

    assert "2 card(s) created, 0 updated, 0 unchanged." in output
    assert titles(core) == ["Școala", "日本"]
    target = tmp_path / "out.csv"
    ok(f"export cards {product.id}", target, "--data", data)
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert [(row["title"], row["status"], row["field:value"]) for row in rows] == [
        ("Școala", "Won", "1200.50"),
        ("日本", "Lead", ""),
    ]
    # The same file back: nothing changes.
    assert "0 card(s) created, 0 updated, 2 unchanged." in ok(
        f"import cards {product.id}", target, "--data", data
    )


def test_an_export_goes_to_standard_output_by_default(data, core, product, tmp_path):
    source = tmp_path / "deals.csv"
    source.write_text("title\nOne\nTwo\n")
    ok(f"import cards {product.id}", source, "--data", data)

    output = ok(f"export cards {product.id} --data", data)

    assert [row["title"] for row in csv.DictReader(io.StringIO(output))] == ["One", "Two"]


def test_a_bad_file_is_refused_line_by_line_and_nothing_is_written(data, core, product, tmp_path):
    source = tmp_path / "deals.csv"
    source.write_text("title,status,owner\nFine,Lead,\nBad,Maybe,\nWorse,,nobody@example.com\n")

    result = cardcrm(f"import cards {product.id}", source, "--data", data)

    assert result.exit_code == 1
    assert "line 3: status: no status 'Maybe'" in result.stderr
    assert "line 4: owner: no user with the e-mail 'nobody@example.com'" in result.stderr
    assert "Nothing was imported: 2 bad line(s)." in result.stderr
    assert titles(core) == []


def test_a_dry_run_from_the_command_line_writes_nothing(data, core, product, tmp_path):
    source = tmp_path / "deals.csv"
    source.write_text("title\nOne\nTwo\n")

    output = ok(f"import cards --dry-run {product.id}", source, "--data", data)

    assert "Dry run, nothing written: 2 card(s) to create, 0 to update, 0 unchanged." in output
    assert titles(core) == []


def test_acting_as_a_user_brings_their_access(data, core, product, tmp_path):
    source = tmp_path / "deals.csv"
    source.write_text("title\nOne\n")

    refused = cardcrm(f"import cards --as ana@example.com {product.id}", source, "--data", data)
    exported = cardcrm(f"export cards {product.id} --as ana@example.com --data", data)
    unknown = cardcrm(f"export cards {product.id} --as who@example.com --data", data)

    assert refused.exit_code == 1 and f"No product {product.id}" in refused.stderr
    assert exported.exit_code == 1 and f"No product {product.id}" in exported.stderr
    assert unknown.exit_code == 1 and "No user who@example.com" in unknown.stderr
    assert titles(core) == []


def test_contacts_round_trip_through_standard_input_and_output(data, core):
    body = (
        "kind,name,emails,company\ncompany,Acme SRL,,\nperson,Ștefan,stefan@example.com,Acme SRL\n"
    )

    assert "2 contact(s) created" in ok("import contacts - --data", data, input=body)

    output = ok("export contacts --data", data)
    rows = list(csv.DictReader(io.StringIO(output)))
    assert [(row["kind"], row["name"], row["company"]) for row in rows] == [
        ("company", "Acme SRL", ""),
        ("person", "Ștefan", "Acme SRL"),
    ]
    again = cardcrm("import contacts - --data", data, input=body)
    # Companies are told apart by e-mail and phone only, so the second Acme SRL is created,
    # and the person is then ambiguous as well as a duplicate.
    assert again.exit_code == 1
    assert "line 3: company: 2 companies are named 'Acme SRL'" in again.stderr
    assert "A contact with this e-mail or phone exists" in again.stderr
    assert "0 contact(s) created, 0 updated, 2 unchanged." in ok(
        "import contacts - --data", data, input=output
    )


def test_the_command_line_has_no_size_or_row_limit(data, core, product, tmp_path, monkeypatch):
    monkeypatch.setenv("CARDCRM_CSV_MAX_ROWS", "2")
    monkeypatch.setenv("CARDCRM_CSV_MAX_MB", "0.0001")
    source = tmp_path / "deals.csv"
    source.write_text("title\n" + "".join(f"Deal number {n}\n" for n in range(50)))

    output = ok(f"import cards {product.id}", source, "--data", data)

    assert "50 card(s) created" in output
    assert len(titles(core)) == 50


def test_control_characters_are_bad_lines_on_the_command_line(data, core, product, tmp_path):
    source = tmp_path / "deals.csv"
    source.write_text("title\nFine\nBell\x07here\n", encoding="utf-8")

    result = cardcrm(f"import cards {product.id}", source, "--data", data)

    assert result.exit_code == 1
    assert "line 3: title: Contains a control character (U+0007); remove it." in result.stderr
    assert titles(core) == []


def test_an_export_from_the_command_line_keeps_formulas_text(data, core, product, tmp_path):
    source = tmp_path / "deals.csv"
    source.write_text("title\n'\uff1d1+1\n' =HYPERLINK(1)\n+40 as text\n", encoding="utf-8")
    ok(f"import cards {product.id}", source, "--data", data)

    output = ok(f"export cards {product.id} --data", data)

    assert [row["title"] for row in csv.DictReader(io.StringIO(output))] == [
        "'\uff1d1+1",
        "' =HYPERLINK(1)",
        "'+40 as text",
    ]
    assert titles(core) == ["\uff1d1+1", " =HYPERLINK(1)", "+40 as text"]
