"""Pushing queued tasks to a CalDAV calendar: create, update or delete each one's to-do.

A task leaves the queue only once the server confirmed its push, and only if no newer change
was queued meanwhile (``generation``). A task's to-do has a fixed href and is created with
``If-None-Match: *`` and changed or deleted with ``If-Match``, so a retry after a crash finds
it again instead of making a second one. A task is deleted from the calendar as soon as it is
no longer shown: deleted, cancelled, or on a card its user may no longer see. A task done
(completed in cardcrm or in the calendar app) stays in the calendar as a completed to-do for
``KEEP_COMPLETED`` (7 days), so the app shows what was done, and leaves it after (each round
queues those past it, ``_expire_completed``); only a to-do the calendar already holds is kept.

A to-do the server refuses (a 4xx other than those of credentials and a gone calendar, or a
412 with nothing of ours in the way) would be refused again: it is named in the account's
``last_error`` and waits, out of the rounds, until its task changes (``PendingPush.refused``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cardcrm.common.db import upsert
from cardcrm.sidecar import access
from icalendar import Todo, vDDDTypes, vInt, vText
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..dav.writes import note_of, noted_component, set_note
from ..ical import parse_remote, task_due_key
from ..mirror import is_shown, queue
from ..models import (
    CaldavAccount,
    MirrorCard,
    MirrorTask,
    PendingPush,
    ProductMember,
    RemoteTodo,
)
from ..remote import RemoteCalendar, RemoteChanged, RemoteRejected
from .base import Account, CalDAVBase, Round

#: How long a done task stays in the calendar as a completed to-do.
KEEP_COMPLETED = timedelta(days=7)


class Pushing(CalDAVBase):
    """The push half of ``CalDAVSync``."""

    def _push(
        self, account: Account, remote: RemoteCalendar, report: Round, *, settled: bool = False
    ) -> None:
        """Push the account's queued tasks. ``settled``: the round just pulled to settle
        failed preconditions; one that fails again is a refusal (a server that answers 412 to
        the version it gave us would otherwise be pulled and pushed again every round)."""
        report.changed_remotely = False
        if not settled:
            self._expire_completed(account)
        after = -1
        while True:
            with self.database.session() as session:
                rows = session.execute(
                    select(PendingPush.task_id, PendingPush.generation)
                    .where(
                        PendingPush.account_id == account.id,
                        PendingPush.task_id > after,
                        PendingPush.waiting(),
                    )
                    .order_by(PendingPush.task_id)
                    .limit(self.batch)
                ).all()
            if not rows:
                return
            for task_id, generation in rows:
                try:
                    self._push_task(account, remote, task_id, generation, report)
                except RemoteChanged as changed:
                    if not settled:
                        report.changed_remotely = True
                        continue
                    report.rejected.append(str(changed))
                    self._refused(account.id, task_id, generation, 412)
                except RemoteRejected as refusal:
                    report.rejected.append(str(refusal))
                    self._refused(account.id, task_id, generation, refusal.status)
            after = rows[-1][0]
            self._renew(account.id)

    def _push_task(
        self,
        account: Account,
        remote: RemoteCalendar,
        task_id: int,
        generation: int,
        report: Round,
    ) -> None:
        with self.database.session() as session:
            task = session.get(MirrorTask, task_id)
            card = session.get(MirrorCard, task.card_id) if task is not None else None
            state = session.get(RemoteTodo, (account.id, task_id))
            shown = is_shown(session, task, card, account.user_id, self.context.is_admin)
            href = state.href if state else remote.href(f"cardcrm-task-{task_id}.ics")
            uid = state.uid if state else self.renderer.uid(task_id)
            etag = state.etag if state else None
            completed = (
                not shown
                and state is not None
                and self._kept_completed(session, task, card, account)
            )
            if shown or completed:
                assert task is not None and card is not None  # what is shown or kept exists
                language = self.context.language_of(account.user_id)
                if completed:
                    body = self._completed_document(task, card, uid, language)
                else:
                    body = self._document(session, task, card, uid, language)
                sequence, due = task.sequence, task_due_key(task)
                written = parse_remote(body)
                assert written is not None  # our own to-do
                summary, description = written.summary, written.description
        if not (shown or completed):
            ours = state is not None
            if not ours:
                # A push may have reached the server just before a crash, unnoted: our own
                # to-do (same UID) at our href must go too, or it stays there for good.
                found = remote.get(href)
                existing = parse_remote(found[0]) if found else None
                ours, etag = existing is not None and existing.uid == uid, found and found[1]
            if ours:
                remote.delete(href, etag)
                report.deleted += 1
            self._pushed(account.id, task_id, generation, None)
            return
        try:
            new_etag = remote.put(href, body, etag)
        except RemoteChanged:
            if etag is not None:
                raise
            # There is something at our href already: our own to-do, when a push reached the
            # server but we stopped before noting it. Adopt it (same UID) and write over it.
            # Nothing there, or another object (Xandikos answers 412 to a to-do it will not
            # store): a refusal, not a change, or the same PUT would be made every round.
            found = remote.get(href)
            existing = parse_remote(found[0]) if found is not None else None
            if found is None or existing is None or existing.uid != uid:
                raise RemoteRejected(f"PUT {href}: the server answered HTTP 412", 412) from None
            new_etag = remote.put(href, body, found[1])
        report.pushed += 1
        self._pushed(
            account.id,
            task_id,
            generation,
            {
                "uid": uid,
                "href": href,
                "etag": new_etag,
                "sequence": sequence,
                "due": due,
                "summary": summary,
                "description": description,
            },
        )

    # --- completed to-dos -----------------------------------------------------------------------

    def _kept_completed(
        self, session: Session, task: MirrorTask | None, card: MirrorCard | None, account: Account
    ) -> bool:
        """Whether the task is done, the user's, in their sight and closed less than
        ``KEEP_COMPLETED`` ago: its to-do stays, completed."""
        if task is None or card is None or card.trashed or task.status != "done":
            return False
        if task.assignee_id != account.user_id:
            return False
        closed_at = _closed_at(task)
        if closed_at is None or self.clock() - closed_at >= KEEP_COMPLETED:
            return False
        ref = access.CardRef(card.id, card.product_id or 0, card.owner_id)
        return access.may_see(session, ProductMember, account.user_id, ref, self.context.is_admin)

    def _completed_document(
        self, task: MirrorTask, card: MirrorCard, uid: str, language: str
    ) -> bytes:
        """The task's to-do, completed when the task was closed."""
        component = self.renderer.component(Todo(), task, card, uid, language)
        with self.database.session() as session:
            note = note_of(session, task.id)
        if note:
            set_note(component, str(task.data.get("text") or ""), note)
        closed_at = _closed_at(task) or task.modified_at
        component["STATUS"] = vText("COMPLETED")
        component["COMPLETED"] = vDDDTypes(closed_at.astimezone(UTC).replace(microsecond=0))
        component["PERCENT-COMPLETE"] = vInt(100)
        return self.renderer.todo_document(component.to_ical(sorted=False).decode())

    def _expire_completed(self, account: Account) -> None:
        """Queue the completed to-dos kept past ``KEEP_COMPLETED`` (their push deletes them);
        no event says when that time is up."""
        with self.database.session() as session:
            rows = session.execute(
                select(MirrorTask)
                .join(RemoteTodo, RemoteTodo.task_id == MirrorTask.id)
                .where(RemoteTodo.account_id == account.id, MirrorTask.status == "done")
            ).scalars()
            now = self.clock()
            expired = [
                task.id
                for task in rows
                if (closed_at := _closed_at(task)) is None or now - closed_at >= KEEP_COMPLETED
            ]
        if expired:
            with self.database.writer.begin() as session:
                queue(session, [(account.id, task_id) for task_id in expired], self.clock())

    def _document(
        self, session: Session, task: MirrorTask, card: MirrorCard, uid: str, language: str
    ) -> bytes:
        """The to-do in the account owner's language (the feed's, when kept in it), with the
        note a calendar app wrote into it."""
        key = self.renderer.key_for(language)
        vtodo = task.vtodo if uid == self.renderer.uid(task.id) and task.render_key == key else None
        # A note written in a calendar app stays in the to-do (``dav.writes.write_note``).
        note = note_of(session, task.id)
        if note:
            vtodo = noted_component(self.renderer, "VTODO", task, card, uid, language, note)
        if not vtodo:
            component = self.renderer.component(Todo(), task, card, uid, language)
            vtodo = component.to_ical(sorted=False).decode()
        return self.renderer.todo_document(vtodo)

    def _refused(self, account_id: int, task_id: int, generation: int, status: int | None) -> None:
        """Keep a refused push out of the rounds until the task changes: the same to-do would
        be refused again, every round, for good."""
        with self.database.writer.begin() as session:
            session.execute(
                update(PendingPush)
                .where(
                    PendingPush.account_id == account_id,
                    PendingPush.task_id == task_id,
                    PendingPush.generation == generation,
                )
                .values(generation=-(status or 0))
            )

    def _pushed(
        self, account_id: int, task_id: int, generation: int, state: dict[str, Any] | None
    ) -> None:
        """Note what the server now holds; the task leaves the queue unless it changed since."""
        with self.database.writer.begin() as session:
            if session.get(CaldavAccount, account_id) is None:
                return  # the account was removed meanwhile
            if state is None:
                session.execute(
                    delete(RemoteTodo).where(
                        RemoteTodo.account_id == account_id, RemoteTodo.task_id == task_id
                    )
                )
            else:
                values = {"account_id": account_id, "task_id": task_id, **state}
                values["pushed_at"] = self.clock()
                changes = {key: value for key, value in values.items() if key != "task_id"}
                changes.pop("account_id")
                upsert(session, RemoteTodo, [values], ["account_id", "task_id"], changes)
            session.execute(
                delete(PendingPush).where(
                    PendingPush.account_id == account_id,
                    PendingPush.task_id == task_id,
                    PendingPush.generation == generation,
                )
            )


def _closed_at(task: MirrorTask) -> datetime | None:
    """When the task was closed, from core's JSON of it."""
    value = task.data.get("closed_at")
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
