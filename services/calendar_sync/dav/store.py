"""What a user's CalDAV collections hold: the objects, their ETags and the sync tokens.

Each user has two collections of the same tasks: ``tasks`` (VTODO) and ``deadlines``
(VEVENT). They hold what the iCal feed shows (``mirror.shown_tasks``: open tasks on cards the
user may see) plus the tasks completed in the last ``KEEP_COMPLETED`` days, shown completed,
so that a phone sees a task done elsewhere tick off instead of vanish.

An object's bytes are the component the mirror keeps, in a VCALENDAR of its own; its ETag is a
hash of those bytes, so it changes exactly when they do. A sync token names the newest row of
the user's change log (``DavChange``, written by the mirror in the transaction of each change),
the day that decides which completed tasks are still shown, and a digest of what else decides
the bytes (the renderer and language, and whether the user is an admin): a token whose digest
is not today's is refused (403 ``valid-sync-token``), and the client lists the whole
collection again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cardcrm.common.db import upsert
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session, aliased

from .. import mirror
from ..context import CalendarContext
from ..feeds import keep_renders
from ..ical import EVENT_LENGTH
from ..models import DavChange, DavChangeHorizon, MirrorCard, MirrorTask
from .write_models import DavObject as MadeInApp
from .writes import noted_component

#: Completed tasks stay in the collections this many days (counted in whole UTC days).
KEEP_COMPLETED = 7
#: Rows of the change log older than this many days are pruned (``prune_changes``): a client
#: that last synced before then, and whose collections changed since, lists them again.
KEEP_CHANGES_DAYS = 30
#: name in the URL → (component, column of the mirror)
COLLECTIONS = {"tasks": "VTODO", "deadlines": "VEVENT"}
TOKEN_PREFIX = "urn:cardcrm:dav:sync:"
#: The newest row of a user's change log (``Collections.newest_change``).
NEWEST_CHANGE = select(func.max(DavChange.id)).where(DavChange.user_id == bindparam("user_id"))


class InvalidSyncToken(Exception):
    """A sync token this server did not give, or no longer honours."""


@dataclass
class DavObject:
    task_id: int
    body: bytes
    etag: str
    due: datetime
    due_date: date | None
    all_day: bool
    #: the component's text (for filters)
    component: str


@dataclass
class Collections:
    """A user's collections as one request sees them."""

    session: Session
    context: CalendarContext
    user: dict[str, Any]
    now: datetime
    _head: bytes = field(default=b"", init=False)
    _newest: int | None = field(default=None, init=False)

    @property
    def user_id(self) -> int:
        return int(self.user["id"])

    @property
    def admin(self) -> bool:
        return bool(self.user.get("is_admin"))

    @property
    def language(self) -> str:
        speaker = self.context.renderer.speaker
        return speaker.language_of(self.user) if speaker else "en"

    @property
    def render_key(self) -> str:
        return self.context.renderer.key_for(self.language)

    @property
    def zone(self) -> Any:
        try:
            return ZoneInfo(self.user.get("timezone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return UTC

    # --- what is shown ------------------------------------------------------------------------

    def cutoff_day(self) -> date:
        """The first day whose completions are still shown."""
        return self.now.astimezone(UTC).date() - timedelta(days=KEEP_COMPLETED)

    @staticmethod
    def day_start(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=UTC)

    def shown(self) -> Any:
        return mirror.shown_tasks(
            self.user_id, self.admin, completed_since=self.day_start(self.cutoff_day())
        )

    def objects(self, kind: str, task_ids: Iterable[int] | None = None) -> list[DavObject]:
        """The collection's objects (only those of ``task_ids`` if given), by deadline."""
        shown = self.shown()
        ids = sorted(set(task_ids)) if task_ids is not None else None
        found: list[DavObject] = []
        chunks = [ids[start : start + 500] for start in range(0, len(ids), 500)] if ids else []
        if ids is None:
            chunks = [None]  # type: ignore[list-item]
        for chunk in chunks:
            found.extend(
                self._build(kind, shown if chunk is None else shown.where(MirrorTask.id.in_(chunk)))
            )
        return found

    def one(self, kind: str, task_id: int) -> DavObject | None:
        found = self.objects(kind, [task_id])
        return found[0] if found else None

    def _build(self, kind: str, query: Any) -> list[DavObject]:
        """The objects of the tasks ``query`` selects: their kept components, those not kept
        (new, changed, or of another renderer) rendered now and kept for the next time."""
        renderer, key, language = self.context.renderer, self.render_key, self.language
        column = MirrorTask.vtodo if kind == "VTODO" else MirrorTask.vevent
        # Columns through the connection, not the ORM's loading: thousands of rows.
        rows = (
            self.session.connection()
            .execute(
                query.with_only_columns(
                    MirrorTask.id,
                    MirrorTask.status,
                    MirrorTask.due,
                    MirrorTask.due_date,
                    MirrorTask.all_day,
                    MirrorTask.render_key,
                    column,
                )
            )
            .all()
        )
        # Objects a calendar app made keep the UID it gave them, or it loses track of them
        # (and their next write names another UID): rendered each time, never kept, since the
        # kept components carry cardcrm's own UID (they are the feed's too). Few per user.
        # Likewise objects whose DESCRIPTION wrote a note (``writes.write_note``): they show
        # it back, or the app's next sync loses its text.
        app_uids: dict[int, str] = {}
        notes: dict[int, str] = {}
        for task_id, uid, note in self.session.execute(
            select(MadeInApp.task_id, MadeInApp.uid, MadeInApp.note).where(
                MadeInApp.user_id == self.user_id,
                MadeInApp.uid.is_not(None) | MadeInApp.note.is_not(None),
            )
        ):
            if uid:
                app_uids[task_id] = uid
            if note:
                notes[task_id] = note
        own = set(app_uids) | set(notes)
        texts = {
            row[0]: row[6]
            for row in rows
            if row[5] == key and row[6] is not None and row[0] not in own
        }
        stale = [row[0] for row in rows if row[0] not in texts]
        fresh = []
        for start in range(0, len(stale), 500):
            chosen = query.where(MirrorTask.id.in_(stale[start : start + 500]))
            for task, card in self.session.execute(chosen):
                if task.id in notes:
                    texts[task.id] = noted_component(
                        renderer, kind, task, card, app_uids.get(task.id), language, notes[task.id]
                    )
                    continue
                if task.id in app_uids:
                    texts[task.id] = renderer.render(
                        kind, task, card, language, uid=app_uids[task.id]
                    )
                    continue
                texts[task.id] = renderer.render(kind, task, card, language)
                fresh.append({"task_id": task.id, "seq": task.sequence, "text": texts[task.id]})
        done = [row[0] for row in rows if row[1] == "done"]
        # when each done task was done (read for those only)
        done_at: dict[int, datetime] = {}
        for start in range(0, len(done), 500):
            chosen = select(MirrorTask.id, MirrorTask.closed_at, MirrorTask.modified_at).where(
                MirrorTask.id.in_(done[start : start + 500])
            )
            for task_id, closed_at, modified_at in self.session.execute(chosen):
                done_at[task_id] = closed_at or modified_at
        head, end = self.head(), b"END:VCALENDAR\r\n"
        built = []
        for task_id, status, due, due_date, all_day, _key, _text in rows:
            text = texts.get(task_id)
            if text is None:
                continue  # it left the collection between the two reads
            if status == "done":
                when = done_at.get(task_id)
                if when is None:
                    continue  # likewise
                text = completed(kind, text, when)
            body = head + text.encode() + end
            built.append(DavObject(task_id, body, etag_of(body), due, due_date, all_day, text))
        if fresh:
            # Kept only while the task is unchanged (its sequence), as the feed does.
            keep_renders(self.session, fresh, key, column.key)
        return built

    def head(self) -> bytes:
        if not self._head:
            document = self.context.renderer.todo_document("")
            self._head = document[: -len(b"END:VCALENDAR\r\n")]
        return self._head

    def task(self, task_id: int) -> tuple[MirrorTask, MirrorCard] | None:
        """The task and card behind an object shown in the collections (``None``: not shown)."""
        row = self.session.execute(self.shown().where(MirrorTask.id == task_id)).first()
        return (row[0], row[1]) if row is not None else None

    # --- sync tokens --------------------------------------------------------------------------

    def newest_change(self) -> int:
        """The newest row of the user's change log (asked once per request, as every DAV
        request asks it: the statement is built once, ``NEWEST_CHANGE``)."""
        if self._newest is None:
            newest = self.session.connection().scalar(NEWEST_CHANGE, {"user_id": self.user_id})
            self._newest = int(newest or 0)
        return self._newest

    def digest(self) -> str:
        text = f"{self.render_key}:{'admin' if self.admin else 'user'}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def sync_token(self) -> str:
        day = self.cutoff_day().toordinal()
        return f"{TOKEN_PREFIX}{self.newest_change()}-{day}-{self.digest()}"

    def changes_since(self, token: str) -> tuple[set[int], str]:
        """The tasks whose objects may have changed since ``token`` (gone ones included), and
        the token of now. ``InvalidSyncToken`` for a token this server would not give now."""
        newest = self.newest_change()
        current = f"{TOKEN_PREFIX}{newest}-{self.cutoff_day().toordinal()}-{self.digest()}"
        if not token:
            return {obj for obj in self._all_ids()}, current
        try:
            change, day, digest = token.removeprefix(TOKEN_PREFIX).split("-")
            since, since_day = int(change), date.fromordinal(int(day))
        except ValueError:
            raise InvalidSyncToken(token) from None
        if (
            not token.startswith(TOKEN_PREFIX)
            or digest != self.digest()
            or since > newest
            or since < 0
            or since_day > self.cutoff_day()
            or since < self.horizon()
        ):
            raise InvalidSyncToken(token)
        changed = set(
            self.session.scalars(
                select(DavChange.task_id).where(
                    DavChange.user_id == self.user_id, DavChange.id > since
                )
            )
        )
        if since_day < self.cutoff_day():
            # completions that have left the collections since, without any change
            changed.update(
                self.session.scalars(
                    select(MirrorTask.id).where(
                        MirrorTask.assignee_id == self.user_id,
                        MirrorTask.status == "done",
                        MirrorTask.closed_at >= self.day_start(since_day),
                        MirrorTask.closed_at < self.day_start(self.cutoff_day()),
                    )
                )
            )
        return changed, current

    def horizon(self) -> int:
        """The newest row of the user's change log that was pruned (0: none): a token before
        it may miss the changes pruned, so it is refused (the client lists all again)."""
        through = self.session.scalar(
            select(DavChangeHorizon.through_id).where(DavChangeHorizon.user_id == self.user_id)
        )
        return int(through or 0)

    def _all_ids(self) -> list[int]:
        return list(self.session.scalars(self.shown().with_only_columns(MirrorTask.id)))

    # --- time ranges --------------------------------------------------------------------------

    def span(self, kind: str, obj: DavObject) -> tuple[datetime, datetime]:
        """The instants a component covers, for ``time-range`` filters: an event from its start
        to its end, a to-do the instant of its deadline (all-day ones read in the user's zone)."""
        if obj.all_day and obj.due_date:
            start = datetime.combine(obj.due_date, time(), tzinfo=self.zone)
            end = start + timedelta(days=1) if kind == "VEVENT" else start
        else:
            start = obj.due.astimezone(UTC)
            end = start + EVENT_LENGTH if kind == "VEVENT" else start
        return start, end


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def completed(kind: str, text: str, when: datetime) -> str:
    """A done task's component, shown completed (``when``): a to-do says so and when; an event
    (which has no completion in iCalendar) gets a tick before its summary."""
    if kind == "VTODO":
        stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return text.replace(
            "STATUS:NEEDS-ACTION\r\n",
            f"STATUS:COMPLETED\r\nCOMPLETED:{stamp}\r\nPERCENT-COMPLETE:100\r\n",
            1,
        )
    return text.replace("\r\nSUMMARY:", "\r\nSUMMARY:\u2713 ", 1)


def prune_changes(session: Session, now: datetime, keep_days: float = KEEP_CHANGES_DAYS) -> int:
    """Delete the change log's rows older than ``keep_days`` (the sync worker runs it now and
    then, ``worker.Housekeeping``); returns how many.

    Each user's newest row stays, whatever its age: it is what their current sync token names,
    so a phone whose collections did not change keeps its token. Per user, the newest row
    pruned is remembered (``DavChangeHorizon``) in the same transaction, so a token before it
    is refused with ``valid-sync-token`` (``changes_since``) rather than answered without the
    changes pruned."""
    horizon = now - timedelta(days=keep_days)
    other = aliased(DavChange)
    newest = select(func.max(other.id)).group_by(other.user_id)
    through = session.execute(
        select(DavChange.user_id, func.max(DavChange.id))
        .where(DavChange.at < horizon, DavChange.id.not_in(newest))
        .group_by(DavChange.user_id)
    ).all()
    if not through:
        return 0
    rows = [
        {"user_id": user_id, "through_id": last, "pruned_at": now}
        for user_id, last in sorted(through)
    ]
    upsert(
        session,
        DavChangeHorizon,
        rows,
        ["user_id"],
        lambda excluded: {"through_id": excluded.through_id, "pruned_at": excluded.pruned_at},
    )
    # exactly the rows up to each user's horizon (not those a concurrent change made old)
    limit = (
        select(DavChangeHorizon.through_id)
        .where(DavChangeHorizon.user_id == DavChange.user_id)
        .scalar_subquery()
    )
    done = session.execute(delete(DavChange).where(DavChange.id <= limit))
    return int(getattr(done, "rowcount", 0) or 0)
