"""``cardcrm files sweep``: remove stored bytes no card file names (what a crash left)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import click

from ...cli_options import data_option

log = logging.getLogger(__name__)


@click.group("files")
def files_group() -> None:
    """Card files' storage."""


@files_group.command("sweep")
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    help="Minutes: only bytes (and temporary files) written before then are removed.",
)
@data_option
def sweep_command(older_than: float, data: str | None) -> None:
    """Remove stored file contents that no card's file names, and leftover temporary files.

    A crash between storing an upload and committing its row, or between a purge's commit and
    the removal of its bytes, leaves such contents. Safe to run while cardcrm serves: a content
    being uploaded or removed is locked, and only contents older than --older-than are looked at.
    """
    from ..app import create_app
    from ..config import from_env

    app = create_app(from_env(data=data))
    result = sweep(app, timedelta(minutes=older_than))
    if not result.listed:
        click.echo("The file storage cannot list its contents: nothing was swept.", err=True)
    click.echo(
        f"Removed {result.removed} stored file(s) no card names"
        f" and {result.temporary} temporary file(s)."
    )


def sweep(app: Any, older_than: timedelta) -> Any:
    from cardcrm.common.db import get_db

    from .contents import sweep_orphans
    from .storage import get_storage

    with app.app_context():
        session = get_db().session()
        try:
            return sweep_orphans(session, get_storage(app), older_than)
        finally:
            session.close()


def sweep_in_background(app: Any) -> threading.Thread:
    """Sweep once, beside a starting server (``cardcrm up``); problems are logged."""

    def run() -> None:
        try:
            result = sweep(app, timedelta(hours=1))
            if result.removed or result.temporary:
                log.info(
                    "files: removed %d orphaned content(s), %d temporary file(s)",
                    result.removed,
                    result.temporary,
                )
        except Exception:
            log.exception("files: the orphan sweep at start failed")

    thread = threading.Thread(target=run, name="files-sweep", daemon=True)
    thread.start()
    return thread
