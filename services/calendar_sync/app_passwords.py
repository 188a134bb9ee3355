"""App passwords: what a phone or a computer signs in to the CalDAV server with.

Each is made for one device, shown once, and revocable on its own, so the account password
never sits in a phone's settings and a lost phone is shut out without touching the others.
The secret carries about 119 random bits, written as six groups of four letters and digits
(``k7qm-…``), easy to type on a phone; only its SHA-256 is kept, which also finds it.
Dashes, spaces and capitals are ignored when it is checked, since people type it by hand.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import NotFound
from cardcrm.common.translate import gettext as _
from sqlalchemy import ColumnElement, Select, bindparam, or_, select, update
from sqlalchemy.orm import Session

from .models import AppPassword

#: Letters and digits that cannot be mistaken for one another (no 0/o, 1/l/i).
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUPS, GROUP_LENGTH = 6, 4
#: ``last_used_at`` is written at most this often per password: a client sends the password
#: with every request, and a write each time would cost more than the answer.
USED_AT_STEP = timedelta(minutes=1)


def normalize_email(email: str) -> str:
    """The e-mail as core compares it (``core.auth.service.normalize_email``)."""
    return email.strip().lower()


def new_secret() -> str:
    """A fresh secret, ``xxxx-xxxx-xxxx-xxxx-xxxx-xxxx``."""
    groups = ("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))
    return "-".join(groups)


def hash_secret(secret: str) -> str:
    """The SHA-256 of the secret as typed, less dashes, spaces and capitals."""
    typed = "".join(secret.split()).replace("-", "").lower()
    return hashlib.sha256(typed.encode()).hexdigest()


def create_app_password(
    session: Session, user: dict[str, Any], name: str, now: datetime
) -> tuple[AppPassword, str]:
    """A new app password of ``user`` for the device ``name``, and its secret (shown once)."""
    secret = new_secret()
    row = AppPassword(
        user_id=user["id"],
        email=normalize_email(user["email"]),
        name=name.strip(),
        secret_hash=hash_secret(secret),
        created_at=now,
    )
    with write_transaction(session):
        session.add(row)
    return row, secret


def list_app_passwords(session: Session, user_id: int) -> list[AppPassword]:
    """The user's app passwords that still work, newest first."""
    return list(
        session.scalars(
            select(AppPassword)
            .where(AppPassword.user_id == user_id, AppPassword.revoked_at.is_(None))
            .order_by(AppPassword.created_at.desc(), AppPassword.id.desc())
        )
    )


def revoke_app_password(session: Session, user_id: int, password_id: int, now: datetime) -> None:
    """Stop one of the user's app passwords at once; another user's, or a revoked one, is a
    404 (whoever asks learns nothing of other users' passwords)."""
    with write_transaction(session):
        row = session.get(AppPassword, password_id)
        if row is None or row.user_id != user_id or row.revoked_at is not None:
            raise NotFound(_("You have no such app password."))
        row.revoked_at = now


class SignIn(NamedTuple):
    """What a sign-in needs of the app password it matched."""

    id: int
    user_id: int
    last_used_at: datetime | None
    #: The value of ``find_app_password``'s ``also`` column (True when it was not given).
    also: bool = True


def find_app_password(
    session: Session,
    email: str,
    secret: str,
    also: ColumnElement[bool] | None = None,
    params: dict[str, Any] | None = None,
) -> SignIn | None:
    """The working app password with this secret, if it was made for this e-mail (columns, not
    the ORM object: this runs on every DAV request). ``also`` is read in the same query, with
    its bound ``params``: the DAV sign-in asks there whether the client has recent failures
    (``dav/throttle.py``), so that a request from a client without any costs one query.

    The row is read on every call, never kept: a password revoked by any process counts at
    once. Only the statement is kept (``_sign_in_query``)."""
    row = (
        session.connection()
        .execute(_sign_in_query(also), {"secret_hash": hash_secret(secret), **(params or {})})
        .first()
    )
    if row is None or row.email != normalize_email(email):
        return None
    return SignIn(
        row.id, row.user_id, row.last_used_at, bool(row.also) if also is not None else True
    )


@functools.cache
def _sign_in_query(also: ColumnElement[bool] | None) -> Select[Any]:
    """The query of ``find_app_password``, built once for each ``also`` (a module's constant,
    such as ``dav.throttle.RECENT``): building it anew on every request cost more than
    running it (SQLAlchemy's coercions), and its compiled form is then found by identity."""
    columns: list[Any] = [
        AppPassword.id,
        AppPassword.user_id,
        AppPassword.email,
        AppPassword.last_used_at,
    ]
    if also is not None:
        columns.append(also.label("also"))
    return select(*columns).where(
        AppPassword.secret_hash == bindparam("secret_hash"), AppPassword.revoked_at.is_(None)
    )


def note_use(session: Session, password_id: int, now: datetime) -> None:
    """Record that the password was used now, unless that was recorded under a minute ago
    (the condition is in the UPDATE, so parallel requests write it once)."""
    with write_transaction(session):
        session.execute(
            update(AppPassword)
            .where(
                AppPassword.id == password_id,
                or_(
                    AppPassword.last_used_at.is_(None),
                    AppPassword.last_used_at <= now - USED_AT_STEP,
                ),
            )
            .values(last_used_at=now)
        )
