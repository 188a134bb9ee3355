"""Running the services: ``cardcrm up`` (everything, embedded) and ``cardcrm serve/worker``.

Every service is a package with the same small interface, looked up in ``SERVICES``:
``config.from_env(data=...)`` → its settings (a dict with at least ``DATABASE_URL``),
``migrate.upgrade(url)``, ``create_app(settings)``, and for the sidecars
``worker.run(settings, stop)`` which follows core's event feed until ``stop`` is set.

``up`` runs them all under one gunicorn worker process with threads: core at ``/``, the
sidecars' apps mounted under their prefixes, their workers as background threads that talk to
core over HTTP like in production. It uses SQLite files in the data folder and seeds a demo
account and demo data on first start.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from gunicorn.app.base import BaseApplication

from .core.cli import data_option

log = logging.getLogger(__name__)

#: service name → (package, URL prefix under ``cardcrm up``)
SERVICES: dict[str, tuple[str, str]] = {
    "core": ("cardcrm.core", ""),
    "calendar": ("cardcrm.calendar_sync", "/calendar"),
    "notifications": ("cardcrm.notifications", "/notifications"),
}
SIDECARS = ("calendar", "notifications")


def available() -> dict[str, ModuleType]:
    """The services whose package is installed (sidecars are optional parts)."""
    found = {}
    for name, (package, _) in SERVICES.items():
        try:
            found[name] = importlib.import_module(package)
        except ModuleNotFoundError as error:
            if error.name != package:
                raise
    return found


def settings_of(name: str, data: str | None, **extra: Any) -> dict[str, Any]:
    config = importlib.import_module(f"{SERVICES[name][0]}.config")
    return {**config.from_env(data=data), **extra}


def upgrade_all(data: str | None) -> list[str]:
    done = []
    for name in available():
        migrate = importlib.import_module(f"{SERVICES[name][0]}.migrate")
        migrate.upgrade(settings_of(name, data)["DATABASE_URL"])
        done.append(name)
    return done


class GunicornServer(BaseApplication):
    """Gunicorn with its settings given in code; the app is built in the worker process."""

    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
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
@click.argument("service", type=click.Choice(list(SERVICES)))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@data_option
def serve(service: str, host: str, port: int, workers: int, threads: int, data: str | None) -> None:
    """Run one service's HTTP app under gunicorn (production; run `cardcrm db upgrade` first)."""
    module = _require(service)
    settings = settings_of(service, data)
    click.echo(f"cardcrm {service} on http://{host}:{port}/", err=True)
    options = gunicorn_options(host, port, workers, threads)
    GunicornServer(lambda: module.create_app(settings), options).run()


@click.command()
@click.argument("service", type=click.Choice(list(SIDECARS)))
@data_option
def worker(service: str, data: str | None) -> None:
    """Run a sidecar's worker: follow core's event feed until stopped (Ctrl-C or SIGTERM)."""
    import signal

    _require(service)
    worker_module = importlib.import_module(f"{SERVICES[service][0]}.worker")
    settings = settings_of(service, data)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    click.echo(f"cardcrm {service} worker following {settings.get('CORE_URL')}", err=True)
    worker_module.run(settings, stop)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@data_option
def up(host: str, port: int, data: str | None) -> None:
    """Run everything in one process on SQLite, with demo data on first start."""
    from .core import create_app
    from .core.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

    services = available()
    upgrade_all(data)
    core_settings = settings_of("core", data)
    seeded = seed_demo(create_app(core_settings))
    base = f"http://{host}:{port}"
    token = _service_token(core_settings)
    sidecars = {
        name: settings_of(
            name, data, CORE_URL=base, SERVICE_TOKEN=token, PUBLIC_URL=base + SERVICES[name][1]
        )
        for name in SIDECARS
        if name in services
    }

    def build() -> Any:
        from werkzeug.middleware.dispatcher import DispatcherMiddleware

        core = create_app(
            {
                **core_settings,
                "PUBLIC_URL": core_settings.get("PUBLIC_URL") or base,
                # The web UI shows the calendar and notification panels of mounted sidecars.
                "SIDECARS": list(sidecars),
            }
        )
        mounts = {
            SERVICES[name][1]: services[name].create_app(settings)
            for name, settings in sidecars.items()
        }
        _start_workers(services, sidecars)
        return DispatcherMiddleware(core, mounts)

    click.echo("")
    click.echo(f"  cardcrm is running at {base}/")
    click.echo(f"  API: {base}/api/v1/  (OpenAPI: {base}/api/v1/openapi.json)")
    click.echo(f"  Log in as {DEMO_EMAIL} with the password {DEMO_PASSWORD}")
    if not seeded:
        click.echo(f"  (data kept from an earlier start in {core_settings['DATA_DIR']})")
    click.echo("")
    GunicornServer(build, gunicorn_options(host, port, 1, 8)).run()


def _start_workers(services: dict[str, ModuleType], sidecars: dict[str, dict[str, Any]]) -> None:
    stop = threading.Event()
    for name, settings in sidecars.items():
        worker_module = importlib.import_module(f"{SERVICES[name][0]}.worker")
        thread = threading.Thread(
            target=worker_module.run,
            args=(settings, stop),
            name=f"{name}-worker",
            daemon=True,
        )
        thread.start()


def _service_token(core_settings: dict[str, Any]) -> str:
    """The sidecars' service token under ``up``: made once, kept in the data folder."""
    from .core.auth.service import create_token, user_for_token
    from .core.db import Database

    path = Path(core_settings["DATA_DIR"]) / "service_token"
    database = Database(core_settings["DATABASE_URL"])
    session = database.session()
    try:
        if path.exists() and user_for_token(session, path.read_text().strip()) is not None:
            return path.read_text().strip()
        token, _ = create_token(session, service="embedded sidecars", name="cardcrm up")
        path.write_text(token)
        path.chmod(0o600)
        return token
    finally:
        session.close()
        database.dispose()


def _require(service: str) -> ModuleType:
    services = available()
    if service not in services:
        raise click.ClickException(f"the {service} service is not installed")
    return services[service]
