"""Two-way sync of each CalDAV account: rounds, their scheduling, leases and backoff.

One round for an account (``CalDAVSync.sync_account``): pull if due (``pull.py``: what changed
in calendar apps comes back to core first), reconcile now and then (``reconcile.py``: to-dos of
tasks core does not have, as after a restore, leave the calendar), then push the queued tasks
(``push.py``). A
precondition that fails on a push means the calendar changed that to-do meanwhile: it is
pulled, the conflict settled, and pushed again. A server that is down or refuses fails the
round: the error is kept on the account, which is tried again later with exponential backoff,
and what is queued stays queued.

What a calendar holds follows core's access rule (``mirror.is_shown``). The mirror queues the
tasks whose access changes with an event; whether the user is an admin is no event, so each
round asks core (cached) and, when the answer differs from the one the account's to-dos were
chosen under, queues every task the calendar holds or should hold. No round runs while the
mirror replays core's events after a migration (``mirror.catching_up``): the memberships it has
then are those of the past.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from cardcrm.sidecar.core_client import CoreUnavailable
from sqlalchemy import CursorResult, exists, or_, select, update

from ..context import CalendarContext
from ..crypto import PasswordUnreadable
from ..mirror import queue, shown_tasks
from ..models import CaldavAccount, MirrorTask, PendingPush, RemoteTodo
from ..remote import RemoteCalendar, RemoteError
from .base import LEASE, Account, Round
from .pull import Pulling
from .push import Pushing
from .reconcile import Reconciling

log = logging.getLogger(__name__)

IDLE_SECONDS = 5.0


class CalDAVSync(Pulling, Reconciling, Pushing):
    """Syncs the accounts of this service's database (any number of workers may run)."""

    def __init__(
        self,
        context: CalendarContext,
        *,
        connect: Callable[[Account, str], RemoteCalendar] | None = None,
        batch: int = 100,
        base_backoff: float = 2.0,
        max_backoff: float = 300.0,
    ) -> None:
        super().__init__(context, batch=batch)
        self.connect = connect or self._connect
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        #: Who holds an account's lease: this host and process, so that a worker restarted on
        #: the same host takes over at once the leases of one that died.
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: One client per account, kept between rounds (its connection and negotiated auth).
        self._remotes: dict[int, tuple[tuple[str, ...], RemoteCalendar]] = {}
        self._reconciled = {}

    # --- scheduling ---------------------------------------------------------------------------

    def due_accounts(self) -> list[int]:
        """Accounts with queued tasks or a pull due, not backing off, not held by a worker."""
        now = self.clock()
        queued = exists().where(PendingPush.account_id == CaldavAccount.id, PendingPush.waiting())
        with self.database.session() as session:
            if self.context.catching_up(session):
                return []
            rows = session.execute(
                select(CaldavAccount.id, CaldavAccount.lease_until, CaldavAccount.lease_owner)
                .where(
                    or_(CaldavAccount.retry_at.is_(None), CaldavAccount.retry_at <= now),
                    or_(CaldavAccount.pull_at.is_(None), CaldavAccount.pull_at <= now, queued),
                )
                .order_by(CaldavAccount.id)
            ).all()
        return [
            account_id
            for account_id, until, owner in rows
            if until is None
            or until < now
            or owner == self.owner
            or (owner is not None and _died_here(owner))
        ]

    def run_once(self) -> float:
        """Sync every due account; returns how long the worker may sleep before the next."""
        for account_id in self.due_accounts():
            self.sync_account(account_id)
        return self._next_due()

    def _next_due(self) -> float:
        now = self.clock()
        with self.database.session() as session:
            times = [
                value
                for row in session.execute(select(CaldavAccount.retry_at, CaldavAccount.pull_at))
                for value in row
                if value is not None
            ]
        waits = [(moment - now).total_seconds() for moment in times]
        return max(0.2, min([IDLE_SECONDS, *waits]))

    # --- one round ----------------------------------------------------------------------------

    def sync_account(
        self, account_id: int, *, pull: bool | None = None, push: bool = True
    ) -> Round:
        """Pull (when due, or if ``pull``) and push one account; failures go to the account.

        A server that is down or refuses is retried later with exponential backoff; what is
        queued stays queued.
        """
        report = Round()
        with self.database.session() as session:
            if self.context.catching_up(session):
                return report
        account = self._claim(account_id)
        if account is None:
            return report
        try:
            self._check_admin(account)
            remote = self._remote(account)
            due = account.pull_at is None or account.pull_at <= self.clock()
            reconcile = self._reconcile_due(account)
            if pull or (pull is None and due):
                self._pull(account, remote, report)
            if reconcile:
                self._reconcile(account, remote, report)
            if push:
                self._push(account, remote, report)
                if report.changed_remotely:
                    # The calendar changed a to-do we were about to write: settle, retry.
                    self._pull(account, remote, report)
                    self._push(account, remote, report, settled=True)
        except (RemoteError, CoreUnavailable, PasswordUnreadable) as failure:
            log.warning("CalDAV account %s: %s", account_id, failure)
            self._forget_remote(account_id)
            self._failed(account_id, str(failure))
        except Exception:
            log.exception("CalDAV account %s: sync failed", account_id)
            self._forget_remote(account_id)
            # The exception may quote what the server answered: the user reads no more than
            # this, the operator finds the rest in the log.
            self._failed(account_id, "unexpected error (the service's log has the details)")
        else:
            self._succeeded(account_id, "; ".join(report.rejected) or self._refusals(account_id))
        finally:
            self._release(account_id)
        return report

    def close(self) -> None:
        for account_id in list(self._remotes):
            self._forget_remote(account_id)

    def _connect(self, account: Account, password: str) -> RemoteCalendar:
        return RemoteCalendar(
            account.url, account.username, password, account.calendar_url, self.context.outbound
        )

    def _remote(self, account: Account) -> RemoteCalendar:
        password = self.context.passwords.open(account.password_encrypted)
        key = (account.url, account.username, password, account.calendar_url)
        cached = self._remotes.get(account.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        self._forget_remote(account.id)
        remote = self.connect(account, password)
        self._remotes[account.id] = (key, remote)
        return remote

    def _check_admin(self, account: Account) -> None:
        """Queue every to-do of the account again if the user became or ceased to be an
        admin since its to-dos were chosen (``CoreUnavailable`` fails the round)."""
        admin = self.context.is_admin(account.user_id)
        if admin == account.shown_as_admin:
            return
        with self.database.writer.begin() as session:
            held = session.scalars(
                select(RemoteTodo.task_id).where(RemoteTodo.account_id == account.id)
            )
            shown = session.scalars(
                shown_tasks(account.user_id, admin).with_only_columns(MirrorTask.id)
            )
            queue(session, {(account.id, task) for task in (*held, *shown)}, self.clock())
            session.execute(
                update(CaldavAccount)
                .where(CaldavAccount.id == account.id)
                .values(shown_as_admin=admin)
            )
        account.shown_as_admin = admin

    def _forget_remote(self, account_id: int) -> None:
        cached = self._remotes.pop(account_id, None)
        if cached is not None:
            cached[1].close()

    # --- the account's state ------------------------------------------------------------------

    def _account(self, account_id: int) -> Account | None:
        with self.database.session() as session:
            row = session.get(CaldavAccount, account_id)
            if row is None:
                return None  # removed meanwhile
            return Account(
                id=row.id,
                user_id=row.user_id,
                url=row.url,
                username=row.username,
                password_encrypted=row.password_encrypted,
                calendar_name=row.calendar_name,
                calendar_url=row.calendar_url,
                timezone=row.timezone,
                sync_token=row.sync_token,
                pull_at=row.pull_at,
                shown_as_admin=row.shown_as_admin,
            )

    def _claim(self, account_id: int) -> Account | None:
        """Take the account's lease: free, expired, ours, or held by a dead process here."""
        now = self.clock()
        with self.database.writer.begin() as session:
            holder = session.scalar(
                select(CaldavAccount.lease_owner).where(
                    CaldavAccount.id == account_id, CaldavAccount.lease_until >= now
                )
            )
            takeable = [
                CaldavAccount.lease_until.is_(None),
                CaldavAccount.lease_until < now,
                CaldavAccount.lease_owner == self.owner,
            ]
            if holder is not None and _died_here(holder):
                takeable.append(CaldavAccount.lease_owner == holder)
            # An UPDATE gives a CursorResult, which SQLAlchemy's types do not say.
            result = cast(
                "CursorResult[Any]",
                session.execute(
                    update(CaldavAccount)
                    .where(CaldavAccount.id == account_id, or_(*takeable))
                    .values(lease_until=now + LEASE, lease_owner=self.owner)
                ),
            )
            claimed = result.rowcount
        return self._account(account_id) if claimed else None

    def _release(self, account_id: int) -> None:
        with self.database.writer.begin() as session:
            session.execute(
                update(CaldavAccount)
                .where(CaldavAccount.id == account_id, CaldavAccount.lease_owner == self.owner)
                .values(lease_until=None, lease_owner=None)
            )

    def _failed(self, account_id: int, message: str) -> None:
        with self.database.writer.begin() as session:
            account = session.get(CaldavAccount, account_id)
            if account is None:
                return
            account.failures += 1
            delay = min(self.max_backoff, self.base_backoff * 2 ** (account.failures - 1))
            account.retry_at = self.clock() + timedelta(seconds=delay * random.uniform(0.8, 1.0))
            account.last_error = message[:2000]

    def _refusals(self, account_id: int) -> str | None:
        """What ``last_error`` keeps saying while to-dos the server refused wait for their
        task's next change: which tasks, and the HTTP status it answered."""
        with self.database.session() as session:
            rows = session.execute(
                select(PendingPush.task_id, PendingPush.generation)
                .where(PendingPush.account_id == account_id, PendingPush.refused())
                .order_by(PendingPush.task_id)
                .limit(11)
            ).all()
        if not rows:
            return None
        statuses = sorted({-generation for _, generation in rows if generation < 0})
        answered = ", ".join(f"HTTP {status}" for status in statuses) or "a refusal"
        tasks = ", ".join(str(task_id) for task_id, _ in rows[:10])
        more = " and more" if len(rows) > 10 else ""
        return (
            f"the server refused the to-dos of tasks {tasks}{more} (it answered {answered}); "
            "each is sent again when its task changes"
        )

    def _succeeded(self, account_id: int, warning: str | None) -> None:
        self._set(
            account_id,
            failures=0,
            retry_at=None,
            last_error=warning[:2000] if warning else None,
            last_sync_at=self.clock(),
        )


def _died_here(owner: str) -> bool:
    """Whether a lease's owner is a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:40] or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it runs, as another user
    return False
