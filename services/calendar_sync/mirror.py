"""The mirror of core: cards and tasks kept up to date from core's events.

``apply_event`` is the event follower's handler: it runs in the transaction that moves the
cursor, so each event's effects are committed exactly once. Every change also bumps the feed
version of the users it concerns (their feeds' ETags change), queues the task for each
CalDAV account that shows it or showed it, and notes it in the change log of the CalDAV server's
collections of each user whose task it is or was (``DavChange``, ``dav/sync.py``).

Calendars show a user only the tasks on cards they may see under core's access rule
(``cardcrm.sidecar.access``): a change of a product's members or of a card's owner is a change
of the tasks it concerns, for the users whose access it changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from cardcrm.common.db import upsert
from cardcrm.common.events import CARD_SNAPSHOTS, TASK_SNAPSHOTS, EventType
from cardcrm.common.timeutil import utcnow
from cardcrm.sidecar import access
from sqlalchemy import Select, case, delete, insert, select, update
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .models import (
    CaldavAccount,
    DavChange,
    EventCursor,
    FeedState,
    MirrorCard,
    MirrorTask,
    PendingPush,
    ProductMember,
    RemoteTodo,
)

#: The name of the mirror's cursor in ``feed_cursors``.
FOLLOWER_NAME = "calendar_sync"
#: Keys of event data that describe the change rather than the task.
CHANGE_KEYS = ("changes", "before")


def apply_event(session: Session, event: dict[str, Any]) -> None:
    """Apply one of core's events to the mirror (the follower's handler)."""
    kind, data = event["type"], event.get("data") or {}
    at = instant(event["at"])
    if kind in access.MEMBERSHIP_EVENTS:
        apply_members(session, event, at)
    if kind in TASK_SNAPSHOTS:
        apply_task(session, data, at)
    elif kind == EventType.TASK_DELETED:
        remove_tasks(session, [data["id"]], at)
    elif kind in CARD_SNAPSHOTS:
        apply_card(session, data, at)
    elif kind == EventType.CARD_PURGED:
        tasks = list(session.scalars(select(MirrorTask.id).where(MirrorTask.card_id == data["id"])))
        remove_tasks(session, tasks, at)
        session.execute(delete(MirrorCard).where(MirrorCard.id == data["id"]))
    elif kind == EventType.PRODUCT_DELETED:
        product_id = data["id"]
        tasks = list(
            session.scalars(select(MirrorTask.id).where(MirrorTask.product_id == product_id))
        )
        remove_tasks(session, tasks, at)
        session.execute(delete(MirrorCard).where(MirrorCard.product_id == product_id))


def apply_task(session: Session, data: dict[str, Any], at: datetime | None = None) -> bool:
    """Take a task as core's API shows it; an older version than the one kept changes nothing."""
    task = session.get(MirrorTask, data["id"])
    if task is not None and data["version"] <= task.version:
        return False
    if session.get(MirrorCard, data["card_id"]) is None:
        # Only if the card's events were missed (they always come before its tasks');
        # its owner unknown, it stays out of sight of members limited to their own cards.
        session.add(
            MirrorCard(
                id=data["card_id"],
                product_id=data.get("product_id"),
                title="",
                owner_id=access.UNKNOWN_OWNER,
            )
        )
    previous_assignee = task.assignee_id if task is not None else None
    updated_at = instant(data["updated_at"])
    if task is None:
        # SEQUENCE starts at 0 when a component is made (RFC 5545 §3.8.7.4).
        task = MirrorTask(id=data["id"], sequence=-1, modified_at=updated_at)
        _fill(task, data, updated_at)
        try:
            with session.begin_nested():
                session.add(task)
        except IntegrityError:
            # Another transaction brought the same new task meanwhile (the feed's follower
            # and a CalDAV write that made it, at once; PostgreSQL): take its row, locked, as
            # if it had been read above.
            task = session.get(MirrorTask, data["id"], with_for_update=True, populate_existing=True)
            if task is None or data["version"] <= task.version:
                return False
            previous_assignee = task.assignee_id
            _fill(task, data, updated_at)
    else:
        _fill(task, data, updated_at)
    touched(session, [task.id], {previous_assignee, task.assignee_id}, at or updated_at)
    return True


def _fill(task: MirrorTask, data: dict[str, Any], updated_at: datetime) -> None:
    """Give ``task`` what core's API shows of it (``data``), as a new version of it."""
    task.card_id = data["card_id"]
    task.product_id = data.get("product_id")
    task.assignee_id = data.get("assignee_id")
    task.status = data["status"]
    task.due = instant(data["due"])
    task.due_date = date.fromisoformat(data["due_date"]) if data.get("due_date") else None
    task.all_day = bool(data.get("all_day"))
    task.version = data["version"]
    closed = data.get("closed_at") if data["status"] != "open" else None
    task.closed_at = (
        instant(closed) if closed else (updated_at if data["status"] != "open" else None)
    )
    task.data = {key: value for key, value in data.items() if key not in CHANGE_KEYS}
    task.sequence += 1
    task.modified_at = max(updated_at, task.modified_at or updated_at)
    task.render_key = task.vevent = task.vtodo = None


def apply_card(session: Session, data: dict[str, Any], at: datetime) -> None:
    card = session.get(MirrorCard, data["id"])
    new = card is None
    if card is None:
        card = MirrorCard(id=data["id"])
        session.add(card)
    title_changed = not new and card.title != data["title"]
    shown_changed = not new and (
        card.closed != bool(data.get("closed"))
        or card.trashed != bool(data.get("trashed"))
        # who may see the card: members limited to their own cards see it or not
        or card.owner_id != data.get("owner_id")
    )
    card.product_id = data.get("product_id")
    card.title = data["title"]
    card.owner_id = data.get("owner_id")
    card.closed = bool(data.get("closed"))
    card.trashed = bool(data.get("trashed"))
    card.updated_at = instant(data["updated_at"]) if data.get("updated_at") else at
    if not (title_changed or shown_changed):
        return
    tasks = list(session.scalars(select(MirrorTask).where(MirrorTask.card_id == card.id)))
    if title_changed:
        for task in tasks:
            task.sequence += 1
            task.modified_at = max(task.modified_at, at)
            task.render_key = task.vevent = task.vtodo = None
    touched(
        session,
        [task.id for task in tasks],
        {task.assignee_id for task in tasks},
        at,
        pairs={(task.assignee_id, task.id) for task in tasks},
    )


def apply_members(session: Session, event: dict[str, Any], at: datetime) -> None:
    """Keep a product's members; each user whose access changed gets a new feed version and
    their open tasks in the product are queued for their CalDAV accounts (put there, or
    deleted from there)."""
    users = access.track(session, ProductMember, event)
    if not users:
        return
    rows = session.execute(
        select(MirrorTask.id, MirrorTask.assignee_id, MirrorTask.status).where(
            MirrorTask.product_id == event["data"]["id"],
            MirrorTask.assignee_id.in_(users),
            # done tasks too: the CalDAV server's collections show the recently completed
            MirrorTask.status.in_(("open", "done")),
        )
    ).all()
    open_tasks = [task_id for task_id, _assignee, status in rows if status == "open"]
    pairs = {(assignee, task_id) for task_id, assignee, _status in rows}
    touched(session, open_tasks, users, at, pairs=pairs)


def remove_tasks(session: Session, task_ids: list[int], at: datetime) -> None:
    if not task_ids:
        return
    tasks = list(session.scalars(select(MirrorTask).where(MirrorTask.id.in_(task_ids))))
    users = {task.assignee_id for task in tasks}
    session.execute(delete(MirrorTask).where(MirrorTask.id.in_(task_ids)))
    touched(session, task_ids, users, at, pairs={(task.assignee_id, task.id) for task in tasks})


# --- what a change touches ------------------------------------------------------------------

#: ``session.info`` key of the changes noted in a transaction, applied just before it commits.
TOUCHED = "calendar_sync_touched"


def touched(
    session: Session,
    task_ids: Iterable[int],
    users: Iterable[int | None],
    at: datetime,
    pairs: Iterable[tuple[int | None, int]] | None = None,
) -> None:
    """Note that these tasks and these users' feeds changed at ``at``; ``pairs`` (user, task)
    are the changes of the users' CalDAV collections (by default every user with every task).

    Noted work is done once per transaction, just before it commits (``install``): one feed
    bump per user and one queue update however many events the transaction handled.
    """
    task_ids, users = list(task_ids), [user for user in users if user is not None]
    noted = session.info.setdefault(TOUCHED, {"tasks": set(), "users": {}, "pairs": set()})
    noted["tasks"].update(task_ids)
    for user in users:
        noted["users"][user] = max(at, noted["users"].get(user, at))
    if pairs is None:
        pairs = [(user, task_id) for user in users for task_id in task_ids]
    noted["pairs"].update((user, task_id) for user, task_id in pairs if user is not None)


def install(factory: sessionmaker) -> None:
    """Apply what each transaction of ``factory``'s sessions noted, in that transaction."""

    @sqlalchemy_event.listens_for(factory, "before_commit")
    def _apply(session: Session) -> None:
        noted = session.info.pop(TOUCHED, None)
        if noted:
            bump_feeds(session, noted["users"])
            enqueue(session, noted["tasks"])
            log_changes(session, noted["pairs"])

    @sqlalchemy_event.listens_for(factory, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop(TOUCHED, None)


def bump_feeds(session: Session, users: dict[int, datetime]) -> None:
    """A new version of each user's feed; ``changed_at`` only ever moves forward."""

    def later(excluded: Any) -> dict[str, Any]:
        newer = FeedState.changed_at.is_(None) | (FeedState.changed_at < excluded.changed_at)
        return {
            "version": FeedState.version + 1,
            "changed_at": case((newer, excluded.changed_at), else_=FeedState.changed_at),
        }

    rows = [{"user_id": user, "version": 1, "changed_at": at} for user, at in users.items()]
    upsert(session, FeedState, sorted(rows, key=lambda row: row["user_id"]), ["user_id"], later)


def log_changes(session: Session, pairs: Iterable[tuple[int, int]]) -> None:
    """One row per (user, task) in the CalDAV server's change log (sync tokens point into it)."""
    rows = [{"user_id": user, "task_id": task_id} for user, task_id in sorted(pairs)]
    if rows:
        session.execute(insert(DavChange), rows)


def enqueue(session: Session, task_ids: Iterable[int]) -> None:
    """Queue each task for the accounts of its assignee and for every account that holds it."""
    ids = sorted(task_ids)
    if not ids:
        return
    assignees = {
        task_id: assignee
        for task_id, assignee in session.execute(
            select(MirrorTask.id, MirrorTask.assignee_id).where(MirrorTask.id.in_(ids))
        )
        if assignee is not None
    }
    accounts: dict[int, list[int]] = {}
    if assignees:
        for account_id, user_id in session.execute(
            select(CaldavAccount.id, CaldavAccount.user_id).where(
                CaldavAccount.user_id.in_(set(assignees.values()))
            )
        ):
            accounts.setdefault(user_id, []).append(account_id)
    pairs = {
        (account_id, task_id)
        for task_id, assignee in assignees.items()
        for account_id in accounts.get(assignee, ())
    }
    # Accounts that hold the task, or are about to (a push in flight must see the change).
    for model in (RemoteTodo, PendingPush):
        rows = session.execute(
            select(model.account_id, model.task_id).where(model.task_id.in_(ids))
        )
        pairs.update((account_id, task_id) for account_id, task_id in rows)
    queue(session, pairs)


def queue(session: Session, pairs: Iterable[tuple[int, int]], now: datetime | None = None) -> None:
    """Put (account, task) pairs in the push queue; a pair already there counts a new change
    (and one the server refused is pushed again)."""
    now = now or utcnow()
    upsert(
        session,
        PendingPush,
        [
            {"account_id": account, "task_id": task, "generation": 1, "enqueued_at": now}
            for account, task in sorted(pairs)
        ],
        ["account_id", "task_id"],
        # A refused push (``generation`` ≤ 0) is tried again: the task changed.
        {"generation": case((PendingPush.refused(), 1), else_=PendingPush.generation + 1)},
    )


# --- what is shown --------------------------------------------------------------------------


def shown_tasks(user_id: int, admin: bool, completed_since: datetime | None = None) -> Select:
    """A user's tasks that calendars show: open, on cards that are neither closed nor trashed
    and that the user may see (``admin``: whether core says the user is an admin).

    With ``completed_since`` (the CalDAV server's collections), also the tasks done since then
    (by their completion, ``closed_at``: a later change, such as their card's new title, does
    not keep them longer).
    """
    status = MirrorTask.status == "open"
    if completed_since is not None:
        recent = (MirrorTask.status == "done") & (MirrorTask.closed_at >= completed_since)
        status = status | recent
    return (
        select(MirrorTask, MirrorCard)
        .join(MirrorCard, MirrorCard.id == MirrorTask.card_id)
        .where(
            MirrorTask.assignee_id == user_id,
            status,
            MirrorCard.closed.is_(False),
            MirrorCard.trashed.is_(False),
            access.may_see_condition(
                ProductMember, user_id, MirrorCard.product_id, MirrorCard.owner_id, admin=admin
            ),
        )
        .order_by(MirrorTask.due, MirrorTask.id)
    )


def is_listed(task: MirrorTask | None, card: MirrorCard | None, user_id: int) -> bool:
    """Whether the task is the user's, open, on a card neither closed nor trashed (access
    aside)."""
    return (
        task is not None
        and card is not None
        and task.assignee_id == user_id
        and task.status == "open"
        and not card.closed
        and not card.trashed
    )


def is_shown(
    session: Session,
    task: MirrorTask | None,
    card: MirrorCard | None,
    user_id: int,
    is_admin: Callable[[int], bool],
) -> bool:
    """What ``shown_tasks`` says of one task; ``is_admin(user_id)`` is asked only when the
    user's memberships do not decide."""
    if not is_listed(task, card, user_id):
        return False
    assert card is not None
    ref = access.CardRef(card.id, card.product_id or 0, card.owner_id)
    return access.may_see(session, ProductMember, user_id, ref, is_admin)


#: ``feed_cursors`` row set by the migration that added access rules: the cursor the mirror
#: had when it was made to read core's events again from the start (see ``catching_up``).
REPLAY_MARK = "calendar_sync.replay_until"


def rebuild(session: Session, newest_id: int) -> None:
    """Start the mirror again from nothing, to be rebuilt from core's events up to ``newest_id``.

    Called when the follower finds core restored behind its cursor (``EventFollower``'s
    ``on_rewind``) and is to read core's events again from the start. The mirror must be
    emptied first: core's ids and versions start again from the backup's, so the mirror's
    newer versions of the same ids would win over core's (``apply_task``), and tasks made after
    the backup would stay. Every to-do on a CalDAV server is queued for a push, which after the
    replay updates it from the rebuilt mirror or removes it if its task is gone; and every
    account's ``sync_token`` is cleared, so that its next round reconciles the whole calendar
    (``caldav.reconcile``: to-dos of tasks the mirror never knew go too); every task the
    CalDAV server showed is logged as changed (``DavChange``), so a client's next sync learns
    which objects are gone. Until the replay is
    done (``catching_up``) feeds and CalDAV sync wait.
    """
    rows = session.execute(select(RemoteTodo.account_id, RemoteTodo.task_id))
    queue(session, [(account_id, task_id) for account_id, task_id in rows])
    session.execute(update(CaldavAccount).values(sync_token=None))
    # Every object of the CalDAV server's collections is logged as changed: a client's next
    # sync-collection finds those of tasks the replay does not bring back gone (404), and the
    # others as the replay leaves them (their ids may now be other tasks').
    held = session.execute(
        select(MirrorTask.assignee_id, MirrorTask.id).where(MirrorTask.assignee_id.is_not(None))
    )
    log_changes(session, [(user, task_id) for user, task_id in held if user is not None])
    for model in (MirrorTask, MirrorCard, ProductMember):
        session.execute(delete(model))
    replay_until(session, newest_id)


def replay_until(session: Session, newest_id: int) -> None:
    """Mark the mirror as catching up to core's event ``newest_id``."""
    mark = session.get(EventCursor, REPLAY_MARK)
    if mark is None:
        session.add(EventCursor(name=REPLAY_MARK, last_id=newest_id))
    else:
        mark.last_id = newest_id


def catching_up(session: Session) -> bool:
    """Whether the mirror is still reading core's events again up to where it was before a
    migration reset its cursor: until then, memberships and owners are those of the past, so
    neither feeds nor CalDAV calendars may be built from them."""
    mark = session.get(EventCursor, REPLAY_MARK)
    if mark is None:
        return False
    cursor = session.get(EventCursor, FOLLOWER_NAME)
    return (cursor.last_id if cursor is not None else 0) < mark.last_id


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
