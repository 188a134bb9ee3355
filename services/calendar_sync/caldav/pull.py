"""Pulling what changed in a CalDAV calendar back into core, settling conflicts.

A completed or cancelled to-do closes the task, a completed one un-ticked reopens it, a moved
``DUE`` postpones or edits it, an edited ``SUMMARY`` is the task's new text and what the
``DESCRIPTION`` holds beyond cardcrm's own lines is the task's note (a note on its card), as
the account's user: the same mapping as writes through cardcrm's own CalDAV server
(``dav/writes.py``). A summary or description is
edited when it differs from the one last pushed (``RemoteTodo.summary``/``description``).
When both sides changed the same thing since the last push (the deadline, or the text), the
later change wins and the losing version goes into the task's history.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from cardcrm.common.text import printable
from cardcrm.sidecar.core_client import CoreError, CoreUnavailable
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..dav.writes import (
    deadline_change,
    description_note,
    rendering,
    summary_text,
    task_deadline,
    write_note,
)
from ..ical import RemoteTask, parse_remote, task_due_key
from ..mirror import apply_task, is_listed, is_shown, queue
from ..models import CaldavAccount, MirrorCard, MirrorTask, PendingPush, RemoteTodo
from ..remote import RemoteCalendar
from .base import Account, CalDAVBase, Round

log = logging.getLogger(__name__)

#: The ``source`` of the sync conflicts this service records in core.
SOURCE = "caldav"


class Pulling(CalDAVBase):
    """The pull half of ``CalDAVSync``."""

    def _pull(self, account: Account, remote: RemoteCalendar, report: Round) -> None:
        changes = remote.changes(account.sync_token)
        with self.database.session() as session:
            known = {
                state.href: state
                for state in session.scalars(
                    select(RemoteTodo).where(RemoteTodo.account_id == account.id)
                )
            }
        deleted = set(changes.deleted)
        if changes.complete:
            deleted |= set(known) - set(changes.changed)
        for href in sorted(deleted & set(known)):
            self._deleted_remotely(account, known[href])
        for href, etag in changes.changed.items():
            state = known.get(href)
            if state is None or (etag is not None and etag == state.etag):
                continue  # not ours, or the version we wrote
            found = remote.get(href)
            if found is None:
                self._deleted_remotely(account, state)
                continue
            data, etag = found
            if etag is not None and etag == state.etag:
                continue
            self._changed_remotely(account, state, data, etag)
            report.pulled += 1
        # Only now, with every change brought back: a failure above pulls them all again.
        with self.database.writer.begin() as session:
            session.execute(
                update(CaldavAccount)
                .where(CaldavAccount.id == account.id)
                .values(
                    sync_token=changes.token,
                    pull_at=self.clock() + timedelta(seconds=self.pull_seconds),
                )
            )
        account.sync_token = changes.token

    def _deleted_remotely(self, account: Account, state: RemoteTodo) -> None:
        """Deleted in the calendar app: the task is still open here, so it is pushed again."""
        with self.database.writer.begin() as session:
            session.execute(
                delete(RemoteTodo).where(
                    RemoteTodo.account_id == account.id, RemoteTodo.task_id == state.task_id
                )
            )
            queue(session, [(account.id, state.task_id)], self.clock())

    def _changed_remotely(
        self, account: Account, state: RemoteTodo, data: str, etag: str | None
    ) -> None:
        remote = parse_remote(data, account.timezone)
        with self.database.session() as session:
            task = session.get(MirrorTask, state.task_id)
            card = session.get(MirrorCard, task.card_id) if task is not None else None
            listed = is_listed(task, card, account.user_id)
            shown = listed and is_shown(session, task, card, account.user_id, self.context.is_admin)
            if task is not None:
                session.expunge(task)
            title = card.title if card is not None else None
        due_changed = (
            remote is not None and remote.due_key is not None and remote.due_key != state.due
        )
        closed = remote is not None and (remote.completed or remote.cancelled)
        text, note = self._edits(state, remote, task, title)
        # Un-ticked: the calendar held the completed to-do we pushed of the task as it is
        # (its sequence), and it is no longer completed. A to-do the calendar still holds open
        # while the task's completion is yet to be pushed is no un-ticking.
        reopened = (
            remote is not None
            and task is not None
            and not closed
            and task.status == "done"
            and task.assignee_id == account.user_id
            and state.sequence == task.sequence
        )
        if remote is None or not (due_changed or closed or text or note or reopened):
            # Nothing cardcrm keeps changed (a colour, a location...): our next push writes
            # over it.
            self._accept(account.id, state.task_id, etag)
            return
        if reopened:
            assert task is not None and remote is not None
            self._reopen(account, state, task, remote, etag, due_changed, text, note)
            return
        if not shown:
            # Closed or deleted in cardcrm (or its card closed), or out of the user's sight:
            # that stays so, and the calendar's version is kept in history unless it says the
            # same (completed). The next push deletes the to-do, or writes it completed.
            if not (closed and task is not None and task.status != "open"):
                reason = "no longer yours to see" if listed else "closed in cardcrm"
                self._keep_losing(account, state.task_id, remote.as_dict(), _local(task), reason)
            self._accept(account.id, state.task_id, etag, requeue=True)
            return
        assert task is not None  # what is shown exists
        both = (due_changed or closed) and task_due_key(task) != state.due
        if text is not None and not both:
            # The text changed here too since the push (or the card's title did).
            language = self.context.language_of(account.user_id)
            summary, _ = rendering(self.context, task.id, "VTODO", language, state.uid)
            both = summary != state.summary
        if both:
            # Both sides changed since the last push: the later change wins.
            if remote.changed_at is None or remote.changed_at <= task.modified_at:
                self._keep_losing(
                    account, task.id, remote.as_dict(), _local(task), "cardcrm changed it later"
                )
                self._accept(account.id, task.id, etag, requeue=True)
                return
            self._keep_losing(
                account, task.id, _local(task), remote.as_dict(), "the calendar changed it later"
            )
        snapshot = self._bring_back(account, task, remote, closed, due_changed, text, note)
        with self.database.writer.begin() as session:
            if snapshot is None:
                # Core refused: its version stands, and the next push puts it back there.
                self._accept(account.id, task.id, etag, requeue=True, session=session)
                return
            apply_task(session, snapshot)
            due = remote.due_key if due_changed else None
            self._accept(account.id, task.id, etag, due=due, session=session)

    def _reopen(
        self,
        account: Account,
        state: RemoteTodo,
        task: MirrorTask,
        remote: RemoteTask,
        etag: str | None,
        due_changed: bool,
        text: str | None,
        note: str | None,
    ) -> None:
        """A completed to-do un-ticked in the calendar app: the task is reopened in core, as
        the account's user (core's rules and history, as the web UI's reopen), then the
        to-do's other changes are brought back. Core refusing leaves the task done, and the
        next push shows it completed again."""
        try:
            snapshot = self.core.reopen_task(task.id, account.user_id, task.version)
        except CoreUnavailable:
            raise
        except CoreError as refusal:
            log.info("core refused to reopen task %s from CalDAV: %s", task.id, refusal)
            self._accept(account.id, task.id, etag, requeue=True)
            return
        if due_changed or text is not None or note is not None:
            task.data, task.version = snapshot, int(snapshot["version"])
            snapshot = self._bring_back(account, task, remote, False, due_changed, text, note) or (
                snapshot
            )
        with self.database.writer.begin() as session:
            apply_task(session, snapshot)
            due = remote.due_key if due_changed else None
            self._accept(account.id, task.id, etag, due=due, session=session)

    def _edits(
        self,
        state: RemoteTodo,
        remote: RemoteTask | None,
        task: MirrorTask | None,
        title: str | None,
    ) -> tuple[str | None, str | None]:
        """The task's new text and note, if the calendar app edited the to-do's SUMMARY or
        DESCRIPTION since the last push (not known for to-dos pushed before they were kept)."""
        if remote is None or task is None:
            return None, None
        text = str(task.data.get("text") or "")
        new_text = note = None
        if state.summary is not None and remote.summary != state.summary:
            new_text = summary_text(remote.summary, text, title)
        if state.description is not None and remote.description != state.description:
            url = self.renderer.card_url(task.card_id)
            note = description_note(remote.description, text, url)
        return new_text, note

    def _bring_back(
        self,
        account: Account,
        task: MirrorTask,
        remote: RemoteTask,
        closed: bool,
        due_changed: bool,
        text: str | None,
        note: str | None,
    ) -> dict[str, Any] | None:
        """Make the calendar's changes in core, as the account's user; returns the task after
        (``None``: core refused one)."""
        user = account.user_id
        snapshot: dict[str, Any] = dict(task.data)
        try:
            if text is not None:
                snapshot = self.core.update_task(task.id, user, {"text": text})
            if note is not None:
                write_note(self.context, user, snapshot, note)
            if closed:
                outcome = "done" if remote.completed else "cancelled"
                comment = f"Marked {'completed' if remote.completed else 'cancelled'} in the "
                comment += f"calendar {account.calendar_name!r}."
                return self.core.close_task(task.id, user, outcome, comment)
            if due_changed:
                assert remote.due is not None
                change = deadline_change(task.all_day, task_deadline(snapshot), remote.due)
                if change is not None:
                    how, body = change
                    if how == "postpone":
                        return self.core.postpone_task(task.id, user, body["due"])
                    return self.core.update_task(task.id, user, body)
            return snapshot
        except CoreUnavailable:
            raise
        except CoreError as refusal:
            # Gone, already closed, or moved meanwhile: core's state stands; our push follows.
            log.info("core refused a change from CalDAV for task %s: %s", task.id, refusal)
            return None

    def _keep_losing(
        self,
        account: Account,
        task_id: int,
        losing: dict[str, Any],
        winning: dict[str, Any],
        reason: str,
    ) -> None:
        try:
            self.core.record_sync_conflict(
                task_id,
                account.user_id,
                SOURCE,
                losing,
                winning,
                f"Sync conflict with the calendar {account.calendar_name!r}: {reason}.",
            )
        except CoreUnavailable:
            raise
        except CoreError as refusal:
            log.info("core did not keep a sync conflict of task %s: %s", task_id, refusal)

    def _accept(
        self,
        account_id: int,
        task_id: int,
        etag: str | None,
        *,
        due: str | None = None,
        requeue: bool = False,
        session: Session | None = None,
    ) -> None:
        """Take the calendar's version as the one we know (our next push writes over it)."""
        if session is None:
            with self.database.writer.begin() as session:
                self._accept(account_id, task_id, etag, due=due, requeue=requeue, session=session)
            return
        values: dict[str, Any] = {"etag": etag}
        if due is not None:
            values["due"] = due
        session.execute(
            update(RemoteTodo)
            .where(RemoteTodo.account_id == account_id, RemoteTodo.task_id == task_id)
            .values(**values)
        )
        # A push the server refused is tried again over the version it now holds.
        session.execute(
            update(PendingPush)
            .where(
                PendingPush.account_id == account_id,
                PendingPush.task_id == task_id,
                PendingPush.refused(),
            )
            .values(generation=1)
        )
        if requeue:
            queue(session, [(account_id, task_id)], self.clock())


def _local(task: MirrorTask | None) -> dict[str, Any]:
    """cardcrm's version of a task, as the history keeps a version that lost a conflict."""
    if task is None:
        return {"side": "cardcrm", "status": "deleted"}
    return {
        "side": "cardcrm",
        "status": task.status,
        "due": task_due_key(task),
        # Core refuses control characters; the mirror may hold text stored before that.
        "text": printable(task.data.get("text") or ""),
        "changed_at": task.modified_at.isoformat().replace("+00:00", "Z"),
    }
