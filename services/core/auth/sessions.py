"""Web sessions kept on the server: a logged-in browser is a row of ``web_sessions``.

The browser's cookie holds only a random id (256 bits); the row keeps its SHA-256, the user,
the CSRF token of the session's forms and when it was made and last used. Logging out
deletes the row, so a copied cookie opens nothing afterwards, and so does ending a session
from the list of one's sessions or changing one's password (the other sessions end).

A session also ends by itself: ``idle`` after its last request (default 72 hours, so a
weekend away keeps people logged in) and ``absolute`` after the login whatever happens
(default 30 days); ``CARDCRM_SESSION_IDLE_HOURS`` and ``CARDCRM_SESSION_MAX_DAYS`` set them.
``last_seen_at`` is written at most once per ``TOUCH_INTERVAL``, not on every request, so
reading pages costs no write. Ended rows are deleted at the next login of anyone.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import NotFound
from cardcrm.common.text import printable
from cardcrm.common.timeutil import utcnow
from cardcrm.common.translate import gettext as _
from sqlalchemy import ColumnElement, and_, delete, not_, select, update
from sqlalchemy.orm import Session

from .models import User, WebSession

DEFAULT_IDLE_HOURS = 72
DEFAULT_MAX_DAYS = 30
TOUCH_INTERVAL = timedelta(minutes=1)
USER_AGENT_LENGTH = 300


@dataclass(frozen=True)
class Lifetimes:
    """How long a web session lives: ``idle`` after its last request, ``absolute`` at most."""

    idle: timedelta = timedelta(hours=DEFAULT_IDLE_HOURS)
    absolute: timedelta = timedelta(days=DEFAULT_MAX_DAYS)

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Lifetimes:
        """From an app's config (``SESSION_IDLE_HOURS``, ``SESSION_MAX_DAYS``)."""
        idle = float(config.get("SESSION_IDLE_HOURS", DEFAULT_IDLE_HOURS))
        absolute = float(config.get("SESSION_MAX_DAYS", DEFAULT_MAX_DAYS))
        if not (0 < idle < 100_000 and 0 < absolute < 100_000):
            raise ValueError("web session lifetimes must be positive (and below 100,000)")
        return cls(idle=timedelta(hours=idle), absolute=timedelta(days=absolute))

    def expires_at(self, row: WebSession) -> datetime:
        return min(row.last_seen_at + self.idle, row.created_at + self.absolute)

    def live(self, now: datetime) -> ColumnElement[bool]:
        """The SQL condition of a session that has not ended at ``now``."""
        return and_(
            WebSession.last_seen_at > now - self.idle, WebSession.created_at > now - self.absolute
        )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(
    session: Session,
    user: User,
    lifetimes: Lifetimes,
    *,
    user_agent: str = "",
    address: str = "",
) -> tuple[str, WebSession]:
    """A new session of ``user``: the secret for the cookie (never stored) and the row."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    with write_transaction(session):
        session.execute(delete(WebSession).where(not_(lifetimes.live(now))))
        row = WebSession(
            secret_hash=hash_secret(secret),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            user_agent=printable(user_agent, one_line=True)[:USER_AGENT_LENGTH],
            address=address[:64],
        )
        session.add(row)
    return secret, row


def find(session: Session, secret: str, lifetimes: Lifetimes) -> WebSession | None:
    """The live session whose cookie holds ``secret``; notes that it was used just now."""
    row = session.scalar(select(WebSession).where(WebSession.secret_hash == hash_secret(secret)))
    if row is None:
        return None
    now = utcnow()
    if lifetimes.expires_at(row) <= now:
        end(session, row.id)
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        with write_transaction(session):
            session.execute(
                update(WebSession).where(WebSession.id == row.id).values(last_seen_at=now)
            )
    return row


def end(session: Session, session_id: int) -> None:
    """End a session (its browser token goes with it: the foreign key cascades)."""
    with write_transaction(session):
        session.execute(delete(WebSession).where(WebSession.id == session_id))


def end_users(session: Session, user: User, session_id: int) -> None:
    """End one of ``user``'s sessions; another's is answered 404, as if there were none."""
    with write_transaction(session):
        ended = session.execute(
            delete(WebSession).where(WebSession.id == session_id, WebSession.user_id == user.id)
        )
        if not ended.rowcount:  # type: ignore[attr-defined]
            raise NotFound(_("No such session."))


def end_users_others(session: Session, user: User, keep: int) -> None:
    """End every session of ``user`` but ``keep`` ("End all other sessions")."""
    with write_transaction(session):
        end_others(session, user.id, keep)


def end_others(session: Session, user_id: int, keep: int | None) -> None:
    """End every session of the user but ``keep``, within the caller's transaction."""
    others = WebSession.user_id == user_id
    if keep is not None:
        others = and_(others, WebSession.id != keep)
    session.execute(delete(WebSession).where(others))


def live_sessions(session: Session, user: User, lifetimes: Lifetimes) -> list[WebSession]:
    """The user's sessions that have not ended, the most recently used first."""
    return list(
        session.scalars(
            select(WebSession)
            .where(WebSession.user_id == user.id, lifetimes.live(utcnow()))
            .order_by(WebSession.last_seen_at.desc(), WebSession.id.desc())
        )
    )


BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device(user_agent: str) -> str:
    """A person's words for a User-Agent ("Firefox on Linux"), for the list of sessions."""
    browser = next((name for mark, name in BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in SYSTEMS if mark in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (user_agent[:60] or "Unknown browser")
