"""The calendar sync service's tables.

- the **mirror** of what the service needs from core, kept up to date from core's events:
  cards (title, owner, closed, trashed), tasks (their data as the API shows it), each task with
  a ``sequence`` that rises with every change and its rendered calendar components, and the
  products' members (who may see which card, ``cardcrm.sidecar.access``);
- **feeds**: secret feed tokens (hashed), each user's feed version and the ETag last served;
- **CalDAV**: accounts (password encrypted), the changes still to push, and what each
  remote calendar holds (task → href, ETag, pushed sequence and deadline);
- **the CalDAV server**: app passwords (hashed) that phones and computers sign in with, and
  the failed sign-ins its throttle counts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from cardcrm.sidecar.access import MembershipColumns
from cardcrm.sidecar.follower import EventCursorColumns
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base


class EventCursor(EventCursorColumns, Base):
    """How far the mirror has read core's events."""


class ProductMember(MembershipColumns, Base):
    """Who may see which card besides admins: the products' members, from core's events."""


# --- The mirror of core ---------------------------------------------------------------------


class MirrorCard(Base):
    __tablename__ = "mirror_cards"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    product_id: Mapped[int | None] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    #: Decides what members limited to their own cards see (``None``: nobody's card).
    owner_id: Mapped[int | None]
    closed: Mapped[bool] = mapped_column(default=False)
    trashed: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime | None]


class MirrorTask(Base):
    __tablename__ = "mirror_tasks"
    __table_args__ = (
        # A user's shown tasks in their order, and with what says which component each has
        # now (``feeds.ENTRY_COLUMNS``) and their card: a feed asked again after a change reads
        # this index alone, not 5,000 rows of the table (each with its components and data).
        Index(
            "ix_mirror_tasks_shown",
            "assignee_id",
            "status",
            "due",
            "id",
            "card_id",
            "sequence",
            "modified_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    card_id: Mapped[int] = mapped_column(index=True)
    product_id: Mapped[int | None] = mapped_column(index=True)
    assignee_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    due: Mapped[datetime]
    due_date: Mapped[date | None]
    all_day: Mapped[bool] = mapped_column(default=False)
    #: core's version of the task: older snapshots never overwrite newer ones.
    version: Mapped[int]
    #: The task as core's API shows it (what plugins get).
    data: Mapped[dict[str, Any]]
    #: Rises with every change of the task or of its card's title (iCalendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(default=0)
    #: The last change of the task or its card's title (DTSTAMP and LAST-MODIFIED).
    modified_at: Mapped[datetime]
    #: When the task was closed (core's ``closed_at``; ``None`` while open): a done task stays
    #: in the CalDAV server's collections, completed, for 7 days from it.
    closed_at: Mapped[datetime | None]
    #: The rendered components, valid while ``render_key`` is the renderer's.
    render_key: Mapped[str | None] = mapped_column(String(64))
    vevent: Mapped[str | None] = mapped_column(Text)
    vtodo: Mapped[str | None] = mapped_column(Text)


# --- Feeds ----------------------------------------------------------------------------------


class FeedToken(Base):
    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the token encrypted (``context.feed_tokens``), so its owner can see the address again
    #: on another device instead of breaking the first by making a new one; ``None`` for
    #: tokens made before cardcrm kept it
    token_sealed: Mapped[str | None] = mapped_column(Text)
    calendar_name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class FeedState(Base):
    """A user's feed version: bumped in the transaction that changes one of their tasks."""

    __tablename__ = "feed_states"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(default=0)
    changed_at: Mapped[datetime | None]


class FeedRender(Base):
    """The ETag of the bytes last served for a user's feed version, so 304s build nothing.

    ``render_key`` is the renderer's key and whether the user was served as an admin: a
    change of either changes the bytes without a new feed version.
    """

    __tablename__ = "feed_renders"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int]
    render_key: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str] = mapped_column(String(80))
    built_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- CalDAV ---------------------------------------------------------------------------------


class CaldavAccount(Base):
    __tablename__ = "caldav_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    url: Mapped[str] = mapped_column(String(2000))
    username: Mapped[str] = mapped_column(String(255))
    #: Fernet token of the password (key derived from the service's secret key).
    password_encrypted: Mapped[str] = mapped_column(Text)
    calendar_name: Mapped[str] = mapped_column(String(255))
    calendar_url: Mapped[str] = mapped_column(String(2000))
    #: The user's time zone when the account was added: floating times read in it.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Failed attempts in a row, and no attempt before ``retry_at`` (exponential backoff).
    failures: Mapped[int] = mapped_column(default=0)
    retry_at: Mapped[datetime | None]
    #: When to ask the server for changes next (``None``: at once).
    pull_at: Mapped[datetime | None]
    #: RFC 6578 sync token of the last complete pull (or caldav's ``fake-`` ETag digest).
    sync_token: Mapped[str | None] = mapped_column(Text)
    #: A worker that syncs this account holds it until then (several workers may run).
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    #: Whether the user was an admin when the calendar's to-dos were last chosen (admins see
    #: every card); when core says otherwise, every to-do is checked again. ``None``: never
    #: chosen under access rules (an account older than them).
    shown_as_admin: Mapped[bool | None]


class PendingPush(Base):
    """A task whose state still has to reach an account's calendar (coalesced per task), or
    that the server refused (``refused``)."""

    __tablename__ = "pending_pushes"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("caldav_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: Rises with each new change; a push removes the row only if no change came meanwhile.
    #: Zero or below: the server refused the push (``-status``, the HTTP status it answered,
    #: or 0); the row waits, not pushed again, until the task's next change (``mirror.queue``).
    generation: Mapped[int] = mapped_column(default=1)
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)

    @classmethod
    def waiting(cls) -> Any:
        """The condition of rows still to push (not refused)."""
        return cls.generation > 0

    @classmethod
    def refused(cls) -> Any:
        """The condition of rows the server refused."""
        return cls.generation <= 0


class RemoteTodo(Base):
    """What an account's calendar holds for a task, as far as the service knows."""

    __tablename__ = "remote_todos"
    __table_args__ = (UniqueConstraint("account_id", "href"),)

    account_id: Mapped[int] = mapped_column(
        ForeignKey("caldav_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    uid: Mapped[str] = mapped_column(String(255))
    href: Mapped[str] = mapped_column(String(1000))
    #: The ETag of the version we know (``None``: unknown, e.g. deleted in the calendar).
    etag: Mapped[str | None] = mapped_column(String(255))
    #: The mirror's ``sequence`` when the task was last pushed.
    sequence: Mapped[int] = mapped_column(default=0)
    #: The deadline both sides agree on: ``YYYY-MM-DD`` or an instant in UTC.
    due: Mapped[str | None] = mapped_column(String(40))
    #: The SUMMARY and DESCRIPTION last pushed (``None``: pushed before they were kept): a
    #: to-do whose own differ was edited in the calendar app.
    summary: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    pushed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- The CalDAV server ----------------------------------------------------------------------


class AppPassword(Base):
    """A password made for one device to sign in to the CalDAV server (``app_passwords.py``).

    Only the SHA-256 of the secret is kept: it carries about 119 random bits, so a fast hash is
    enough, and it finds the row by an index lookup on every DAV request.
    """

    __tablename__ = "app_passwords"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    #: The user's e-mail as core said it when the password was made, lower-cased: the
    #: user name the device signs in with.
    email: Mapped[str] = mapped_column(String(320))
    #: The device's name, as its owner typed it ("Ana's iPhone").
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Written at most once a minute (``app_passwords.USED_AT_STEP``).
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DavLoginFailure(Base):
    """A failed sign-in to the CalDAV server, kept for the throttle's window
    (``dav/throttle.py``)."""

    __tablename__ = "dav_login_failures"
    __table_args__ = (
        Index("ix_dav_login_failures_email_address_at", "email", "address", "at"),
        Index("ix_dav_login_failures_address_at", "address", "at"),
        Index("ix_dav_login_failures_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The user name as sent, lower-cased (the account may not exist: that is throttled too).
    email: Mapped[str] = mapped_column(String(320))
    #: The client's address as the app sees it (behind a trusted proxy: the forwarded one).
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DavChange(Base):
    """A change of one task in one user's CalDAV collections (``dav/store.py``).

    The mirror writes one row per (user, task) its transaction touched; a sync token names the
    newest row a client has seen, so "what changed since" is the rows after it, and tokens
    survive restarts. Both of a user's collections hold the same tasks, so they share the log.
    The worker prunes rows older than ``store.KEEP_CHANGES_DAYS`` (``store.prune_changes``).
    """

    __tablename__ = "dav_changes"
    __table_args__ = (
        Index("ix_dav_changes_user_id_id", "user_id", "id"),
        Index("ix_dav_changes_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
    task_id: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DavChangeHorizon(Base):
    """The newest row of a user's change log that was pruned: a sync token before it may
    miss changes, so it is refused and the client lists the collection again."""

    __tablename__ = "dav_change_horizons"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    through_id: Mapped[int]
    pruned_at: Mapped[datetime] = mapped_column(default=utcnow)
