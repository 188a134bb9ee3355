"""Login throttling: password guessing is slowed down per account and per client address.

Failed logins are kept for ``WINDOW``. A login is refused with 429 and ``Retry-After`` before
the password is even checked when, within the window, the same client address failed
``ACCOUNT_LIMIT`` times for that e-mail, or ``ADDRESS_LIMIT`` times whatever the e-mails. A
success forgets that address's failures for that e-mail. The failures live in the database,
so the limits hold across gunicorn workers and restarts. Another address can still log in to
a throttled account: the throttle slows an attacker down without becoming a way to lock
people out. (Behind a reverse proxy the address is the forwarded one only when the proxy is
trusted; see docs/production.md.)
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import TooManyRequests
from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from .models import LoginFailure

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 50


def check(session: Session, email: str, address: str, now: datetime) -> int:
    """Refuse (``TooManyRequests``) a login over a limit; else the failures of this e-mail
    from this address within the window."""
    recent = and_(LoginFailure.address == address, LoginFailure.at >= now - WINDOW)
    counted = select(func.count(), func.min(LoginFailure.at))
    account = session.execute(counted.where(recent, LoginFailure.email == email)).one()
    _refuse_over(account, ACCOUNT_LIMIT, "for this account", now)
    _refuse_over(
        session.execute(counted.where(recent)).one(), ADDRESS_LIMIT, "from your address", now
    )
    return account[0]


def _refuse_over(found: Any, limit: int, what: str, now: datetime) -> None:
    count, oldest = found
    if count >= limit:
        wait = max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
        raise TooManyRequests(
            f"Too many failed logins {what}; try again in {_minutes(wait)}.", wait
        )


def failed(session: Session, email: str, address: str, now: datetime) -> None:
    """Keep a failed login (its own transaction) and forget the ones out of the window."""
    with write_transaction(session):
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
        session.add(LoginFailure(email=email, address=address, at=now))


def succeeded(session: Session, email: str, address: str) -> None:
    with write_transaction(session):
        session.execute(
            delete(LoginFailure).where(LoginFailure.email == email, LoginFailure.address == address)
        )


def _minutes(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return "a minute" if minutes <= 1 else f"{minutes} minutes"
