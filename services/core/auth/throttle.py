"""Login throttling: password guessing is slowed down per account and per client address.

Attempts are kept for ``WINDOW``. A login is refused with 429 and ``Retry-After`` before the
password is even checked when, within the window, the same client address failed
``ACCOUNT_LIMIT`` times for that e-mail, or ``ADDRESS_LIMIT`` times whatever the e-mails. A
success forgets that address's failures for that e-mail. The attempts live in the database,
so the limits hold across gunicorn workers and restarts. Another address can still log in to
a throttled account: the throttle slows an attacker down without becoming a way to lock
people out. (Behind a reverse proxy the address is the forwarded one only when the proxy is
trusted; see docs/production.md.)

Counting and recording are one step (``attempt``): an attempt is written, in the transaction
that counted the ones before it, *before* its password is checked, and deleted when the
password was right; what stays are the failures. Attempts sent in parallel therefore count
each other, and no more than ``ACCOUNT_LIMIT`` passwords are ever checked (SQLite's write
lock serialises the step; on PostgreSQL an advisory lock per client address does).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import TooManyRequests
from cardcrm.common.translate import ngettext
from sqlalchemy import and_, delete, func, select, text
from sqlalchemy.orm import Session

from .models import LoginFailure

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 50
#: The first key of the PostgreSQL advisory locks taken per client address ("log").
LOCK_NAMESPACE = 0x6C6F67


def attempt(session: Session, email: str, address: str, now: datetime) -> None:
    """Record a login attempt before its password is checked, or refuse it over a limit
    (``TooManyRequests``; nothing is recorded then). A failed attempt needs nothing more: it
    stays, as a failure; a right password calls ``succeeded``."""
    with write_transaction(session):
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                {"namespace": LOCK_NAMESPACE, "key": _lock_key(address)},
            )
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
        recent = and_(LoginFailure.address == address, LoginFailure.at >= now - WINDOW)
        counted = select(func.count(), func.min(LoginFailure.at))
        account = session.execute(counted.where(recent, LoginFailure.email == email)).one()
        _refuse_over(account, ACCOUNT_LIMIT, "account", now)
        _refuse_over(session.execute(counted.where(recent)).one(), ADDRESS_LIMIT, "address", now)
        session.add(LoginFailure(email=email, address=address, at=now))


def _lock_key(address: str) -> int:
    return int.from_bytes(hashlib.sha256(address.encode()).digest()[:4], "big", signed=True)


def _refuse_over(found: Any, limit: int, what: str, now: datetime) -> None:
    count, oldest = found
    if count >= limit:
        wait = max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
        minutes = math.ceil(wait / 60)
        if what == "account":
            message = ngettext(
                "Too many failed logins for this account; try again in a minute.",
                "Too many failed logins for this account; try again in %(num)d minutes.",
                minutes,
            )
        else:
            message = ngettext(
                "Too many failed logins from your address; try again in a minute.",
                "Too many failed logins from your address; try again in %(num)d minutes.",
                minutes,
            )
        raise TooManyRequests(message, wait)


def succeeded(session: Session, email: str, address: str) -> None:
    """The password was right: forget this attempt and this address's failures for the e-mail."""
    with write_transaction(session):
        session.execute(
            delete(LoginFailure).where(LoginFailure.email == email, LoginFailure.address == address)
        )
