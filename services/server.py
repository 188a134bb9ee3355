"""Running the services: ``cardcrm up`` (everything, embedded) and ``cardcrm serve/worker``.

Every service is a package with the same small interface, looked up in ``SERVICES``:
``config.from_env(data=...)`` → its settings (a dict with at least ``DATABASE_URL``),
``migrate.upgrade(url)``, ``create_app(settings)``, and for the sidecars
``worker.run(settings, stop)`` which follows core's event feed until ``stop`` is set.

``up`` runs them all under one gunicorn worker process with threads: core at ``/``, the
sidecars' apps mounted under their prefixes, their workers as background threads that talk to
core over HTTP like in production. It uses SQLite files in the data folder (the folder ``0700``,
the files ``0600`` when it makes them) and seeds a demo account and demo data on first start;
the demo password is generated then and printed once (``core/demo.py``).

Gunicorn's settings are given in code (``gunicorn_options``); ``serve --config FILE`` reads a
gunicorn configuration file over them (``contrib/gunicorn/`` has one per service), and the
options given on the command line win over both. Behind a reverse proxy,
``--trusted-proxies N`` (``CARDCRM_TRUSTED_PROXIES``) makes the apps take the URL users see from
the proxies' X-Forwarded-* headers (``proxy.py``). The access log never shows secrets
(``access_log.py``).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from click.core import ParameterSource
from gunicorn.app.base import Application

from .cli_options import data_option
from .common import proxy, shutdown
from .common.plugins import check_plugins_dir
from .common.private_files import write_private

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


class GunicornServer(Application):
    """Gunicorn with its settings given in code; the app is built in the worker process.

    Settings come from ``options``, then from the gunicorn configuration file ``config_file``
    (read by gunicorn's own loader: a Python file of ``name = value`` lines, names it does not
    know ignored, server hooks allowed), then from ``overrides``: each layer wins over the one
    before.
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        options: dict[str, Any],
        config_file: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.factory = factory
        self.options = options
        self.config_file = config_file
        self.overrides = overrides or {}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if self.config_file:
            self.load_config_from_file(self.config_file)
        for key, value in self.overrides.items():
            self.cfg.set(key, value)
        configured = self.cfg.post_worker_init

        def post_worker_init(worker: Any) -> None:
            # In the worker, after gunicorn's own signal handlers: a stop first wakes the
            # requests that wait (the feed's long-polls), so they answer before the deadline.
            shutdown.chain_stop_signal()
            configured(worker)

        self.cfg.set("post_worker_init", post_worker_init)

    def load(self) -> Any:
        return self.factory()


#: ``up``'s one process: its threads serve the browser, the API and the sidecars' workers,
#: which follow core's feed through HTTP as two of its long-polls.
UP_THREADS = 8


def default_workers(cores: int | None = None) -> int:
    """Gunicorn worker processes when none are asked for: one per core (at least two).

    A request's Python work holds its process's GIL, so processes, not threads, use the
    cores; more processes than cores only take turns on them (and each holds its own pool
    of database connections and caches). Two at least, so that one slow request (an export,
    a first build of a feed) never holds up everyone."""
    return max(2, cores if cores is not None else (os.cpu_count() or 1))


def default_threads() -> int:
    """Threads per worker when none are asked for: enough to keep the core busy while
    other requests wait on the database or the network (each thread uses a database
    connection of the worker's pool, ``common/db.py``: the pool is sized from this)."""
    return 4


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 60,
        # On a stop, requests in flight get this long; long-polls are woken at once
        # (shutdown.py), and it is longer than their longest wait (30 s) all the same.
        "graceful_timeout": 35,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        # Feed tokens and other secrets never reach the access log.
        "logger_class": "cardcrm.common.access_log.RedactingLogger",
        # gunicorn's control socket lives in the home folder: global state that two
        # instances on one machine would fight over. Nothing here uses it.
        "control_socket_disable": True,
    }


trusted_proxies_option = click.option(
    "--trusted-proxies",
    envvar=proxy.ENV_VAR,
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Reverse proxies in front (e.g. 1 for nginx) whose X-Forwarded-For/-Proto/-Host/-Prefix"
    " headers give the URL users see; 0 ignores those headers. [env: CARDCRM_TRUSTED_PROXIES]",
)


@click.command()
@click.argument("service", type=click.Choice([*SERVICES, "mail"]))
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A gunicorn configuration file (contrib/gunicorn/SERVICE.conf.py) read over the"
    " defaults; options given here win over it (--host or --port replace its bind).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=default_workers,
    show_default="one per core, at least 2",
    type=click.IntRange(min=1),
)
@click.option("--threads", default=default_threads, show_default=True, type=click.IntRange(min=1))
@trusted_proxies_option
@data_option
@click.pass_context
def serve(
    context: click.Context,
    service: str,
    config_file: str | None,
    host: str,
    port: int,
    workers: int,
    threads: int,
    trusted_proxies: int,
    data: str | None,
) -> None:
    """Run one service's HTTP app under gunicorn (production; run `cardcrm db upgrade` first).

    `serve mail` runs the SMTP receiver that files mail onto cards instead, on
    CARDCRM_MAIL_LISTEN (or --host/--port), talking to core at CARDCRM_CORE_URL with a service
    token holding the scope mail:deliver (CARDCRM_MAIL_SERVICE_TOKEN or CARDCRM_SERVICE_TOKEN).
    """
    if service == "mail":
        given_bind = {
            name: value
            for name, value in (("host", host), ("port", port))
            if context.get_parameter_source(name) == ParameterSource.COMMANDLINE
        }
        _serve_mail(given_bind)
        return
    module = _require(service)
    settings = settings_of(service, data)
    if settings.get("PLUGINS_DIR"):
        # Checked here too, so that a loose folder stops the command with its message
        # rather than every gunicorn worker failing to boot.
        check_plugins_dir(settings["PLUGINS_DIR"])
    given = {
        name
        for name in ("host", "port", "workers", "threads")
        if context.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    counts = {"workers": workers, "threads": threads}
    overrides: dict[str, Any] = {name: value for name, value in counts.items() if name in given}
    if given & {"host", "port"}:
        overrides["bind"] = f"{host}:{port}"
    server = GunicornServer(
        lambda: proxy.behind_proxies(module.create_app(settings), trusted_proxies),
        gunicorn_options(host, port, workers, threads),
        config_file=config_file,
        overrides=overrides,
    )
    # The threads each process runs, after the file's say: core lets half of them long-poll.
    settings["SERVER_THREADS"] = server.cfg.threads
    addresses = ", ".join(f"http://{address}/" for address in server.cfg.bind)
    click.echo(f"cardcrm {service} on {addresses}", err=True)
    server.run()


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
@trusted_proxies_option
@data_option
def up(host: str, port: int, trusted_proxies: int, data: str | None) -> None:
    """Run everything in one process on SQLite, with demo data on first start."""
    from .core import create_app
    from .core.demo import (
        DEMO_EMAIL,
        DEMO_PASSWORD_VARIABLE,
        demo_password,
        replace_published_password,
        seed_demo,
    )
    from .core.files.cli import sweep_in_background

    password = demo_password(os.environ)  # a refused one stops before anything is made
    _check_address_free(host, port)  # a busy port stops before the data folder is touched
    services = available()
    upgrade_all(data)
    core_settings = settings_of("core", data)
    first = create_app(core_settings)
    seeded = seed_demo(first, password)
    # A demo admin an earlier version made still has the password it published for all.
    replaced = not seeded and replace_published_password(first, password)
    sweep_in_background(first)  # bytes a crash left with no card file naming them
    base = f"http://{host}:{port}"
    token = _service_token(core_settings)
    mail_token = _service_token(core_settings, "mail")
    mail_listen = os.environ.get("CARDCRM_MAIL_LISTEN")
    sidecars = {}
    for name in SIDECARS:
        if name in services:
            settings = settings_of(name, data, CORE_URL=base, SERVICE_TOKEN=token)
            # CARDCRM_PUBLIC_URL (e.g. behind a proxy) wins over the address served here.
            settings["PUBLIC_URL"] = settings.get("PUBLIC_URL") or base + SERVICES[name][1]
            settings["CORE_PUBLIC_URL"] = settings.get("CORE_PUBLIC_URL") or base
            sidecars[name] = settings

    def build() -> Any:
        from werkzeug.middleware.dispatcher import DispatcherMiddleware

        core = create_app(
            {
                **core_settings,
                "PUBLIC_URL": core_settings.get("PUBLIC_URL") or base,
                # The web UI shows the calendar and notification panels of mounted sidecars.
                "SIDECARS": list(sidecars),
                "SERVER_THREADS": UP_THREADS,
            }
        )
        mounts = {
            SERVICES[name][1]: services[name].create_app(settings)
            for name, settings in sidecars.items()
        }
        _start_workers(services, sidecars)
        core.extensions["cardcrm_mail_receiver"] = _start_mail_receiver(base, mail_token)
        return proxy.behind_proxies(DispatcherMiddleware(core, mounts), trusted_proxies)

    click.echo("")
    click.echo(f"  cardcrm is running at {base}/")
    click.echo(f"  API: {base}/api/v1/  (OpenAPI: {base}/api/v1/openapi.json)")
    if mail_listen:
        click.echo(f"  Mail to cards: SMTP on {mail_listen}")
    if replaced:
        click.echo(f"  The demo admin {DEMO_EMAIL} had the password earlier versions published:")
        if os.environ.get(DEMO_PASSWORD_VARIABLE):
            click.echo(f"  it is now the one set in {DEMO_PASSWORD_VARIABLE}.")
        else:
            click.echo(f"  its new password is {password} (shown this once: only its hash is kept)")
    elif not seeded:
        click.echo(f"  Data kept from an earlier start in {core_settings['DATA_DIR']}: log in")
        click.echo("  with your accounts (the demo password was printed at the first start).")
    elif os.environ.get(DEMO_PASSWORD_VARIABLE):
        click.echo(f"  Log in as {DEMO_EMAIL} (password: as set in {DEMO_PASSWORD_VARIABLE})")
    else:
        click.echo(f"  Log in as {DEMO_EMAIL} with the password {password}")
        click.echo("  (shown this once: only its hash is kept)")
    if not _is_loopback(host):
        click.echo(
            f"  Warning: {host} is reachable from other machines, over plain http. For more"
            " than a try-out, see docs/production.md (https, PostgreSQL).",
            err=True,
        )
    click.echo("")
    GunicornServer(build, gunicorn_options(host, port, 1, UP_THREADS)).run()


def _check_address_free(host: str, port: int) -> None:
    """Refuse to start when ``host:port`` is taken, before anything is made or printed.

    Bound the way gunicorn binds (``SO_REUSEADDR``: a port left in TIME_WAIT by a stopped
    server is free), then released for gunicorn to bind again a moment later.
    """
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise click.ClickException(f"cannot listen on {host}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {error.strerror}. Another program (perhaps"
                " another cardcrm) uses it; stop it or choose another port with --port"
                " (make run PORT=...)."
            ) from None


def _serve_mail(given_bind: dict[str, Any]) -> None:
    import signal

    from .mail_receiver import config as mail_config
    from .mail_receiver import run

    settings = mail_config.from_env()
    if not settings["SERVICE_TOKEN"]:
        raise click.ClickException(
            "Set CARDCRM_MAIL_SERVICE_TOKEN (or CARDCRM_SERVICE_TOKEN) to a token made with"
            " `cardcrm token create --service mail --scope mail:deliver`."
        )
    host, port = settings["LISTEN"]
    settings["LISTEN"] = (given_bind.get("host", host), given_bind.get("port", port))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    host, port = settings["LISTEN"]
    click.echo(f"cardcrm mail receiver on smtp://{host}:{port}/, filing to {settings['CORE_URL']}")
    run(settings, stop)


def _start_mail_receiver(base: str, token: str) -> Any:
    """Under ``up``: the SMTP receiver in this process when CARDCRM_MAIL_LISTEN is set."""
    if not os.environ.get("CARDCRM_MAIL_LISTEN"):
        return None
    from .mail_receiver import MailReceiver
    from .mail_receiver import config as mail_config

    settings = {**mail_config.from_env(), "CORE_URL": base, "SERVICE_TOKEN": token}
    receiver = MailReceiver(settings)
    receiver.start()
    shutdown.on_stop(receiver.stop)  # held weakly: the caller keeps the receiver
    return receiver


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


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


def _service_token(core_settings: dict[str, Any], purpose: str = "sidecars") -> str:
    """A service token under ``up``, made once and kept in the data folder: the sidecars', or
    the mail receiver's (``purpose="mail"``, holding ``mail:deliver`` only)."""
    from .common.db import Database
    from .core.auth.service import create_token, user_for_token

    mail = purpose == "mail"
    path = Path(core_settings["DATA_DIR"]) / ("mail_service_token" if mail else "service_token")
    database = Database(core_settings["DATABASE_URL"])
    session = database.session()
    try:
        if path.exists() and user_for_token(session, path.read_text().strip()) is not None:
            return path.read_text().strip()
        token, _ = create_token(
            session,
            service="embedded mail receiver" if mail else "embedded sidecars",
            name="cardcrm up",
            scopes=("mail:deliver",) if mail else None,
        )
        write_private(path, token)
        return token
    finally:
        session.close()
        database.dispose()


def _require(service: str) -> ModuleType:
    services = available()
    if service not in services:
        raise click.ClickException(f"the {service} service is not installed")
    return services[service]
