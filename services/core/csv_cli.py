"""The ``cardcrm import`` and ``cardcrm export`` commands: cards and contacts as CSV files.

They work on the database directly (no server, no size or row limit: files of any size), as
the first admin unless ``--as EMAIL`` names the user to act as (with that user's access). An
import checks the whole file, then writes it in short batches like the API's, so a running
server keeps serving its users meanwhile.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..cli_options import data_option
from .cli import core_settings

as_option = click.option(
    "--as",
    "as_email",
    metavar="EMAIL",
    help="Act as this user, with their access (default: the first admin).",
)


@click.group("import")
def import_group() -> None:
    """Import cards or contacts from CSV files (a file with a bad row imports nothing)."""


@click.group("export")
def export_group() -> None:
    """Export cards or contacts as CSV files."""


@import_group.command("cards")
@click.argument("product_id", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Check the file and count; write nothing.")
@as_option
@data_option
def import_cards_command(
    product_id: int, file: str, dry_run: bool, as_email: str | None, data: str | None
) -> None:
    """Import the cards of product PRODUCT_ID from FILE (`-`: standard input).

    Rows with the id of one of the product's cards update it; the others create cards.
    """
    from .csv_io.card_import import import_cards

    with _core(data, as_email) as (session, actor), _csv_file(file) as source:
        _report("card", lambda: import_cards(session, actor, product_id, source, dry_run=dry_run))


@import_group.command("contacts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Check the file and count; write nothing.")
@click.option(
    "--allow-duplicate",
    is_flag=True,
    help="Create contacts that share an e-mail or phone with another one.",
)
@as_option
@data_option
def import_contacts_command(
    file: str, dry_run: bool, allow_duplicate: bool, as_email: str | None, data: str | None
) -> None:
    """Import contacts from FILE (`-`: standard input)."""
    from .csv_io.contact_import import import_contacts

    with _core(data, as_email) as (session, actor), _csv_file(file) as source:
        _report(
            "contact",
            lambda: import_contacts(
                session, actor, source, dry_run=dry_run, allow_duplicate=allow_duplicate
            ),
        )


@export_group.command("cards")
@click.argument("product_id", type=int)
@click.argument("file", required=False, default="-", type=click.Path(dir_okay=False))
@click.option("--bom", is_flag=True, help="Start with a UTF-8 BOM (for Excel).")
@as_option
@data_option
def export_cards_command(
    product_id: int, file: str, bom: bool, as_email: str | None, data: str | None
) -> None:
    """Write the cards of product PRODUCT_ID to FILE (default: standard output)."""
    from cardcrm.common.errors import CardcrmError

    from .access import scope_of
    from .csv_io.cards import export_cards, export_conditions
    from .products.service import get_product

    with _core(data, as_email) as (session, actor):
        scope = scope_of(session, actor)
        try:
            if not scope.sees_product(product_id):
                raise click.ClickException(f"No product {product_id}.")
            product = get_product(session, product_id)
        except CardcrmError as error:
            raise click.ClickException(error.detail) from error
        conditions = export_conditions(product, scope)
        _write(file, export_cards(lambda: session, product, conditions, bom=bom))


@export_group.command("contacts")
@click.argument("file", required=False, default="-", type=click.Path(dir_okay=False))
@click.option("--bom", is_flag=True, help="Start with a UTF-8 BOM (for Excel).")
@as_option
@data_option
def export_contacts_command(file: str, bom: bool, as_email: str | None, data: str | None) -> None:
    """Write every contact to FILE (default: standard output)."""
    from .csv_io.contacts import export_contacts

    with _core(data, as_email) as (session, _actor):
        _write(file, export_contacts(lambda: session, bom=bom))


# --- helpers ----------------------------------------------------------------------------------


@contextmanager
def _core(data: str | None, as_email: str | None) -> Iterator[tuple[Any, Any]]:
    """A session of the core database (migrated first) inside the app, and the acting user."""
    from cardcrm.common.db import get_db
    from cardcrm.core.migrate import upgrade

    from .app import create_app

    settings = core_settings(data)
    upgrade(settings["DATABASE_URL"])
    app = create_app(settings)
    try:
        with app.app_context():
            session = get_db().session()
            try:
                yield session, _actor(session, as_email)
            finally:
                session.close()
    finally:
        app.extensions["cardcrm_db"].dispose()


def _actor(session: Any, as_email: str | None) -> Any:
    from sqlalchemy import select

    from .auth.models import User
    from .auth.service import normalize_email

    if as_email:
        user = session.scalar(select(User).where(User.email == normalize_email(as_email)))
        if user is None:
            raise click.ClickException(f"No user {as_email}.")
        return user
    user = session.scalar(select(User).where(User.is_admin).order_by(User.id).limit(1))
    if user is None:
        raise click.ClickException(
            "There is no admin yet: create one (cardcrm user create --admin) or give --as EMAIL."
        )
    return user


@contextmanager
def _csv_file(file: str) -> Iterator[Any]:
    """The file to import; standard input is kept in a temporary file (it is read twice)."""
    from .csv_io.parsing import CsvFile

    if file != "-":
        yield CsvFile.from_path(file)
        return
    with tempfile.TemporaryDirectory(prefix="cardcrm-import-") as folder:
        path = Path(folder) / "input.csv"
        with path.open("wb") as copy:
            shutil.copyfileobj(sys.stdin.buffer, copy)
        yield CsvFile.from_path(path)


def _report(noun: str, run: Callable[[], Any]) -> None:
    from cardcrm.common.errors import CardcrmError

    from .csv_io.errors import ImportRefused

    try:
        result = run()
    except ImportRefused as refusal:
        for error in refusal.row_errors:
            click.echo(f"line {error.line}: {error.message}", err=True)
        if refusal.total > len(refusal.row_errors):
            click.echo(f"...and {refusal.total - len(refusal.row_errors)} more.", err=True)
        click.echo(f"Nothing was imported: {refusal.total} bad line(s).", err=True)
        sys.exit(1)
    except CardcrmError as error:
        raise click.ClickException(error.detail) from error
    if result.dry_run:
        click.echo(
            f"Dry run, nothing written: {result.created} {noun}(s) to create, "
            f"{result.updated} to update, {result.unchanged} unchanged."
        )
    else:
        click.echo(
            f"{result.created} {noun}(s) created, {result.updated} updated, "
            f"{result.unchanged} unchanged."
        )


def _write(file: str, pieces: Iterator[str]) -> None:
    with click.open_file(file, "wb") as output:
        for piece in pieces:
            output.write(piece.encode("utf-8"))
