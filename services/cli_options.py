"""Options shared by the commands of the ``cardcrm`` command line (core's and the server's)."""

from __future__ import annotations

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
