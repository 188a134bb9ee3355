"""The CalDAV server's sign-in throttle: core's login policy, on this service's database.

The same limits as core's (``core/auth/throttle.py``): within ``WINDOW``, ``ACCOUNT_LIMIT``
failures for one e-mail from one client address, or ``ADDRESS_LIMIT`` from one address
whatever the e-mails, and further sign-ins from there are refused with 429 and
``Retry-After`` before the password is even checked. Another address can still sign in: the
throttle slows a guesser down without becoming a way to lock people out.

Unlike core, a sign-in is not written before it is checked: a calendar app sends the password
with every request, and a write per request would cost more than the answer. Only failures
are written (and forgotten when the same address then signs in). Guesses sent in parallel may
therefore pass the limit by a few; against a secret of about 119 random bits
(``app_passwords.py``) that is no help to a guesser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, func, select
from sqlalchemy.orm import Session

from ..models import DavLoginFailure

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 50


@dataclass(frozen=True)
class Refusal:
    """Why a sign-in is refused for now: ``what`` is ``"account"`` or ``"address"``."""

    what: str
    retry_after: int


#: Whether an address has failures within the window, as a column to read in the sign-in's own
#: query (``auth.py``): one probe of the (address, at) index. A client without recent failures,
#: nearly every request, then needs no second query; and as the database is read on every
#: request, a refusal written by another process counts at once. Built once, with parameters
#: (``recent_params``): a sign-in runs on every DAV request, and building the statement anew
#: each time cost more than running it.
RECENT = exists().where(
    DavLoginFailure.address == bindparam("failure_address"),
    DavLoginFailure.at >= bindparam("failure_since"),
)


def recent_params(address: str, now: datetime) -> dict[str, Any]:
    """The parameters of ``RECENT`` for a client at ``address``."""
    return {"failure_address": address, "failure_since": now - WINDOW}


def check(session: Session, email: str, address: str, now: datetime) -> tuple[Refusal | None, int]:
    """Whether sign-ins of ``email`` from ``address`` are refused for now, and how many of
    its failures count (so that a success forgets them only when there are some).

    One query counts both (the address's failures, and those among them for the e-mail): it
    runs when ``RECENT`` says there are some, or the password was wrong."""
    for_email = case((DavLoginFailure.email == email, DavLoginFailure.at))
    address_count, address_oldest, account_count, account_oldest = session.execute(
        select(
            func.count(), func.min(DavLoginFailure.at), func.count(for_email), func.min(for_email)
        ).where(DavLoginFailure.address == address, DavLoginFailure.at >= now - WINDOW)
    ).one()
    if account_count >= ACCOUNT_LIMIT:
        return Refusal("account", _wait(account_oldest, now)), account_count
    if address_count >= ADDRESS_LIMIT:
        return Refusal("address", _wait(address_oldest, now)), account_count
    return None, account_count


def _wait(oldest: datetime, now: datetime) -> int:
    return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))


def failed(session: Session, email: str, address: str, now: datetime) -> None:
    """Count a failed sign-in (in the caller's write transaction), and drop expired ones."""
    session.execute(delete(DavLoginFailure).where(DavLoginFailure.at < now - WINDOW))
    session.add(DavLoginFailure(email=email, address=address, at=now))


def succeeded(session: Session, email: str, address: str) -> None:
    """The password was right: forget this address's failures for the e-mail (in the caller's
    write transaction)."""
    session.execute(
        delete(DavLoginFailure).where(
            DavLoginFailure.email == email, DavLoginFailure.address == address
        )
    )
