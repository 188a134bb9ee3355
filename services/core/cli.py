"""Core commands of the ``cardcrm`` command line: databases, users, tokens, serving core.

Passwords and tokens are prompted for (hidden) or read from standard input (``--*-stdin``):
an argument is visible to every user of the machine in ``ps``. ``--password P`` stays, for
scripts that have nothing better, and its help says what it costs.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from cardcrm.core.migrate import upgrade

from ..cli_options import data_option, read_secret, secret_options
from . import config as core_config


def core_settings(data: str | None) -> dict[str, Any]:
    return core_config.from_env(data=data)


@click.group("db")
def db_group() -> None:
    """Create or migrate the databases."""


@db_group.command("upgrade")
@data_option
def db_upgrade(data: str | None) -> None:
    """Create or migrate every service's database to the current schema."""
    from ..server import settings_of, upgrade_all

    for name in upgrade_all(data):
        url = settings_of(name, data)["DATABASE_URL"]
        click.echo(f"{name} database is up to date ({_safe_url(url)})")


@click.group("user")
def user_group() -> None:
    """Manage users."""


@user_group.command("create")
@click.argument("email")
@click.option("--name", required=True)
@secret_options("password", "The user's password.")
@click.option("--admin", is_flag=True, default=False)
@click.option("--timezone", default="UTC", show_default=True)
@data_option
def user_create(
    email: str,
    name: str,
    password: str | None,
    password_stdin: bool,
    admin: bool,
    timezone: str,
    data: str | None,
) -> None:
    """Create a user; the password is asked for unless --password-stdin (or --password) gives it.

    \b
        cardcrm user create ana@example.com --name Ana              (asks twice, hidden)
        pass show crm/ana | cardcrm user create ana@example.com --name Ana --password-stdin
    """
    from cardcrm.common.errors import CardcrmError
    from marshmallow import ValidationError

    from .auth.schemas import UserCreateSchema
    from .auth.service import create_user

    password = read_secret("password", password, password_stdin, confirm=True)
    try:
        fields = UserCreateSchema().load(
            {
                "email": email,
                "name": name,
                "password": password,
                "timezone": timezone,
                "is_admin": admin,
            }
        )
    except ValidationError as error:
        raise click.ClickException(_messages(error.messages)) from error
    with _session(data) as session:
        try:
            user = create_user(session, **fields)
        except CardcrmError as error:
            raise click.ClickException(error.detail) from error
    click.echo(f"created user {user.id} <{user.email}>{' (admin)' if user.is_admin else ''}")


@click.group("token")
def token_group() -> None:
    """Manage API tokens."""


def _scopes_help() -> str:
    from .auth.scopes import SCOPES

    listed = "; ".join(f"{name}: {text}" for name, text in SCOPES.items())
    return (
        "What the service token may do (repeat for more; default: what the sidecars need,"
        f" all but mail:deliver, which the mail receiver's token takes alone). {listed}."
    )


@token_group.command("create")
@click.argument("email", required=False)
@click.option("--service", "service_name", help="Make a service token for the sidecars.")
@click.option("--scope", "scopes", multiple=True, help=_scopes_help())
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, 3650),
    help="A user's token stops working after that many days (default: when revoked).",
)
@data_option
def token_create(
    email: str | None,
    service_name: str | None,
    scopes: tuple[str, ...],
    expires_in_days: int | None,
    data: str | None,
) -> None:
    """Print a new API token for the user EMAIL, or for a service (--service NAME).

    A service token reads the event feed and acts for users only as far as the sidecars
    need (its scopes); it never does what only admins may."""
    from sqlalchemy import select

    from .auth.models import User
    from .auth.scopes import unknown_scopes
    from .auth.service import create_token, normalize_email

    if bool(email) == bool(service_name):
        raise click.UsageError("Give either EMAIL or --service NAME.")
    if scopes and not service_name:
        raise click.UsageError("--scope is for service tokens (--service NAME).")
    if expires_in_days and service_name:
        raise click.UsageError("--expires-in-days is for a user's token.")
    if unknown_scopes(scopes):
        raise click.UsageError(f"no such scope: {', '.join(unknown_scopes(scopes))}")
    with _session(data) as session:
        user = None
        if email:
            user = session.scalar(select(User).where(User.email == normalize_email(email)))
            if user is None:
                raise click.ClickException(f"no user {email}")
        token, _ = create_token(
            session,
            user=user,
            service=service_name,
            name="command line",
            scopes=scopes or None,
            expires_in_days=expires_in_days,
        )
    click.echo(token)


@token_group.command("revoke")
@click.argument("token", required=False)
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input.")
@data_option
def token_revoke(token: str | None, token_stdin: bool, data: str | None) -> None:
    """Revoke a token: asked for (hidden), read from standard input with --token-stdin, or
    given as TOKEN (visible to other users in `ps`; prefer the other two)."""
    from cardcrm.common.db import write_transaction
    from cardcrm.common.timeutil import utcnow
    from sqlalchemy import select

    from .auth.models import ApiToken
    from .auth.service import hash_token

    token = read_secret("token", token, token_stdin, confirm=False)
    with _session(data) as session, write_transaction(session):
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
        if row is None:
            raise click.ClickException("no such token")
        row.revoked_at = row.revoked_at or utcnow()
    click.echo("revoked")


class _session:  # noqa: N801 - used like a function: `with _session(data) as session`
    """A session of the core database named by the settings, migrated first."""

    def __init__(self, data: str | None) -> None:
        from cardcrm.common.db import Database

        settings = core_settings(data)
        upgrade(settings["DATABASE_URL"])
        self.database = Database(settings["DATABASE_URL"])

    def __enter__(self) -> Any:
        self.session = self.database.session()
        return self.session

    def __exit__(self, *exc: Any) -> None:
        self.session.close()
        self.database.dispose()


def _messages(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {' '.join(map(str, value))}" for key, value in messages.items())
    return str(messages)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)
