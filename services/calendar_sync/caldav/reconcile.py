"""Reconciling a CalDAV calendar with core: cardcrm's to-dos of tasks core does not have.

After a restore of core from a backup, the tasks created since the backup are gone from core,
but their to-dos stay in the users' calendars: no event will ever say they were deleted (core
does not remember them), and the service's own records (the mirror, ``remote_todos``) may
still hold them or, restored too, know nothing of them. A reconcile lists the calendar and
asks core, as the account's user, about every task one of cardcrm's objects stands for; an
object whose task core does not have, or that is no longer the user's open task (or out of
their sight), is deleted from the calendar, unless the task is the user's and done less than
``push.KEEP_COMPLETED`` ago (its to-do stays, completed, that long).

Only cardcrm's objects: one the service pushed (``remote_todos``) or one at cardcrm's href
form (``cardcrm-task-<id>.ics``), and in either case only if the object's UID is the one
cardcrm gave that task. The user's own to-dos and events are never touched.

It costs a listing of the calendar and one request to core per cardcrm object, so it does
not run every round: on an account's first round in a worker (a restore comes with a
restart), on a round without a sync token (the account's first, or one a user asked for with
``POST /api/v1/caldav/{id}/sync``) and every ``RECONCILE_SECONDS`` (6 h by default). Whatever
learns that core was restored may have every calendar reconciled at once by clearing the
accounts' ``sync_token``.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime

from cardcrm.sidecar.core_client import CoreError, CoreUnavailable
from sqlalchemy import delete, select

from ..config import DEFAULT_RECONCILE_SECONDS
from ..ical import object_uid
from ..models import PendingPush, RemoteTodo
from ..remote import RemoteCalendar, RemoteChanged, RemoteRejected
from .base import Account, CalDAVBase, Round
from .push import KEEP_COMPLETED

log = logging.getLogger(__name__)

#: The name of the calendar object cardcrm makes for a task (``push.py``).
OUR_NAME = re.compile(r"cardcrm-task-([0-9]{1,18})\.ics")


class Reconciling(CalDAVBase):
    """The reconcile part of ``CalDAVSync``."""

    #: When this worker last reconciled each account (``time.monotonic``).
    _reconciled: dict[int, float]

    def _reconcile_due(self, account: Account) -> bool:
        last = self._reconciled.get(account.id)
        every = float(self.context.settings.get("RECONCILE_SECONDS") or DEFAULT_RECONCILE_SECONDS)
        return account.sync_token is None or last is None or time.monotonic() - last >= every

    def _reconcile(self, account: Account, remote: RemoteCalendar, report: Round) -> None:
        """Delete from the calendar cardcrm's objects of tasks core says are not the user's
        open tasks (``CoreUnavailable`` and remote errors fail the round)."""
        listing = remote.changes(None)  # every member; the account's sync token stays
        with self.database.session() as session:
            known = {
                state.href: (state.task_id, state.uid)
                for state in session.scalars(
                    select(RemoteTodo).where(RemoteTodo.account_id == account.id)
                )
            }
        candidates: dict[str, tuple[int, str]] = {}
        for href in listing.changed:
            if href in known:
                candidates[href] = known[href]
                continue
            name = OUR_NAME.fullmatch(href.rsplit("/", 1)[-1])
            if name is not None:
                task_id = int(name[1])
                candidates[href] = (task_id, self.renderer.uid(task_id))
        for href, (task_id, uid) in sorted(candidates.items()):
            if self._users_open_task(account, task_id):
                continue
            try:
                found = remote.get(href)
                if found is None or object_uid(found[0]) != uid:
                    continue  # gone meanwhile, or not ours: the user's own object stays
                remote.delete(href, found[1])
            except (RemoteChanged, RemoteRejected) as failure:
                # Changed meanwhile, or refused: the next reconcile looks again; the round
                # (its pushes) goes on.
                log.info("CalDAV account %s: reconcile left %s: %s", account.id, href, failure)
                continue
            log.info(
                "CalDAV account %s: removed the to-do of task %s, which core does not have "
                "as the user's open task",
                account.id,
                task_id,
            )
            report.orphans += 1
            with self.database.writer.begin() as session:
                for model in (RemoteTodo, PendingPush):
                    session.execute(
                        delete(model).where(
                            model.account_id == account.id, model.task_id == task_id
                        )
                    )
        self._reconciled[account.id] = time.monotonic()

    def _users_open_task(self, account: Account, task_id: int) -> bool:
        """Whether core has the task, open (or done lately), assigned to the account's user
        and in their sight (asked as the user: a task they may not see is not found)."""
        try:
            task = self.core.get_task(task_id, account.user_id)
        except CoreUnavailable:
            raise
        except CoreError as refusal:
            if refusal.status in (401, 403, 404):
                return False  # no such task, or not the user's to see (or no such user)
            raise CoreUnavailable(f"core answered {refusal.status} for task {task_id}") from None
        if task.get("assignee_id") != account.user_id:
            return False
        if task.get("status") == "open":
            return True
        # Done lately: its to-do stays in the calendar, completed (``push.KEEP_COMPLETED``).
        closed = str(task.get("closed_at") or "")
        try:
            closed_at = datetime.fromisoformat(closed.replace("Z", "+00:00"))
        except ValueError:
            return False
        return task.get("status") == "done" and self.clock() - closed_at < KEEP_COMPLETED
