"""Running the services: ``cardcrm up`` (everything, embedded) and ``cardcrm serve SERVICE``.

Both run under gunicorn. ``up`` uses one worker process with threads, on SQLite files in the
data folder, and seeds a demo account and demo data on first start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from .core.cli import core_settings, data_option


class GunicornServer(BaseApplication):
    """Gunicorn with its settings given in code; the app is built in the worker."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.factory()


def _gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        # gunicorn's control socket lives in the home folder: global state that two
        # instances on one machine would fight over. Nothing here uses it.
        "control_socket_disable": True,
    }


@click.command()
@click.argument("service", type=click.Choice(["core"]))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@data_option
def serve(service: str, host: str, port: int, workers: int, threads: int, data: str | None) -> None:
    """Run one service under gunicorn (production; run `cardcrm db upgrade` first)."""
    from .core import create_app

    settings = core_settings(data)
    click.echo(f"cardcrm {service} on http://{host}:{port}/", err=True)
    GunicornServer(
        lambda: create_app(settings), _gunicorn_options(host, port, workers, threads)
    ).run()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@data_option
def up(host: str, port: int, data: str | None) -> None:
    """Run everything in one process on SQLite, with demo data on first start."""
    from .core import create_app
    from .core.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
    from .core.migrate import upgrade

    settings = core_settings(data)
    upgrade(settings["DATABASE_URL"])
    seeded = seed_demo(create_app(settings))
    url = f"http://{host}:{port}/"
    click.echo("")
    click.echo(f"  cardcrm is running at {url}")
    click.echo(f"  API: {url}api/v1/  (OpenAPI: {url}api/v1/openapi.json)")
    click.echo(f"  Log in as {DEMO_EMAIL} with the password {DEMO_PASSWORD}")
    if not seeded:
        click.echo(f"  (data kept from an earlier start in {settings['DATA_DIR']})")
    click.echo("")
    GunicornServer(lambda: create_app(settings), _gunicorn_options(host, port, 1, 8)).run()
