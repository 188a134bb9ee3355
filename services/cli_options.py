"""Options shared by the commands of the ``cardcrm`` command line (core's and the server's)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def data_option(function: F) -> F:
    """``--data``: the folder of the SQLite files (``CARDCRM_DATA_DIR``)."""
    return click.option(
        "--data",
        "data",
        envvar="CARDCRM_DATA_DIR",
        default=None,
        help="Folder of the SQLite files (default ./data), unless database URLs are set.",
    )(function)


def secret_options(name: str, help: str) -> Callable[[F], F]:
    """``--NAME VALUE`` and ``--NAME-stdin`` for a secret (a password, a token).

    A value given as an argument is visible to every user of the machine in ``ps`` and stays
    in the shell's history, so the option is kept for scripts that cannot do better and says
    so; ``--NAME-stdin`` reads it from standard input, and with neither the command prompts
    (``read_secret``).
    """

    def decorate(function: F) -> F:
        function = click.option(
            f"--{name}-stdin",
            f"{name}_stdin",
            is_flag=True,
            help=f"Read the {name} from standard input (one line).",
        )(function)
        return click.option(
            f"--{name}",
            name,
            default=None,
            help=f"{help} Visible to other users in `ps` and kept in the shell's history: prefer"
            f" the prompt or --{name}-stdin.",
        )(function)

    return decorate


def read_secret(name: str, given: str | None, from_stdin: bool, *, confirm: bool) -> str:
    """The secret given as ``--NAME``, else read from standard input (``--NAME-stdin``), else
    asked for with a hidden prompt (twice when ``confirm``: a typo would lock someone out)."""
    if given is not None and from_stdin:
        raise click.UsageError(f"--{name}-stdin reads the {name}: do not give it as well.")
    if given is not None:
        return given
    if from_stdin:
        text = sys.stdin.read()
        value = text.removesuffix("\n").removesuffix("\r")
        if not value:
            raise click.UsageError(f"--{name}-stdin: standard input is empty.")
        if "\n" in value or "\r" in value:
            raise click.UsageError(f"--{name}-stdin: give the {name} on one line.")
        return value
    label = name.capitalize()
    return str(click.prompt(label, hide_input=True, confirmation_prompt=confirm))
