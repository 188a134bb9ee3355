"""The ``cardcrm`` command: every service's commands under one entry point."""

from __future__ import annotations

from typing import Any

import click

from . import __version__
from .common.errors import ConfigurationError
from .common.plugins import PluginLoadError
from .core.cli import db_group, token_group, user_group
from .core.csv_cli import export_group, import_group
from .core.files.cli import files_group
from .server import serve, up, worker


class CardcrmGroup(click.Group):
    """Settings a service refuses to start with (a placeholder secret key, a plugins folder
    others may write to) end the command with their message and exit status 1, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigurationError as error:
            raise click.ClickException(error.detail) from None
        except PluginLoadError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=CardcrmGroup)
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
main.add_command(files_group)
