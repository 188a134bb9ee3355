"""The ``cardcrm`` command: every service's commands under one entry point."""

from __future__ import annotations

import click

from . import __version__
from .core.cli import db_group, token_group, user_group
from .core.csv_cli import export_group, import_group
from .server import serve, up, worker


@click.group()
@click.version_option(__version__, prog_name="cardcrm")
def main() -> None:
    """cardcrm: a self-hosted CRM of products, cards and tasks."""


main.add_command(db_group)
main.add_command(user_group)
main.add_command(token_group)
main.add_command(serve)
main.add_command(up)
main.add_command(worker)
main.add_command(import_group)
main.add_command(export_group)
