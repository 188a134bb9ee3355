"""Writes through cardcrm's CalDAV server: a calendar app's PUT and DELETE become changes of
the user's tasks, made in core as that user through its API, so under the web UI's rules, with
its history and events (and a plugin's veto).

``apply_put`` compares the object a client PUT with the task it stands for (the mirror's
``data``, core's JSON of the task) and calls core for each difference, in this order:

- un-completing a closed to-do (``STATUS`` other than COMPLETED/CANCELLED) reopens the task;
- ``SUMMARY`` is the task's text: cardcrm writes ``<text> — <card title>``, and the card's
  title is taken off again (an app that shows the summary gives it back whole);
- the deadline, ``DUE`` of a to-do (else its ``DTSTART``) or ``DTSTART`` of an event: a later
  one postpones the task (``postponed_count`` grows, the Today view counts it), an earlier one
  is an edit; a date for a timed task (or the other way round) makes it all-day (or timed);
- ``DESCRIPTION`` beyond what cardcrm writes there (the task's text, then ``Card: <title>``
  and the card's address, in any language) is the task's **note**: tasks have no note of their
  own, so it is a note on the task's card, written by the user; the same object writes it again
  (edits that note) rather than adding another, and a description without one leaves it be.
  The object shows the note from then on, on the line after the task's text
  (``noted_description``, ``store.py``), so the app's next sync keeps it and PUTs it back;
- completing (``STATUS:COMPLETED``, ``COMPLETED`` or ``PERCENT-COMPLETE:100``) closes the task
  as done, ``STATUS:CANCELLED`` (to-dos and events) closes it as cancelled.

Every call names core's version of the task it read (``If-Match``), so a change made meanwhile
in the web UI is never overwritten: core answers 412, and so does the PUT.

A new object (``current`` is ``None``) becomes a task assigned to the user on their **inbox
card**: a card titled "Calendar inbox" (in their language) that cardcrm makes, owned by the
user, in the first product (lowest id) they may add cards to, and remembers
(``DavInbox``; made again if it was deleted). The client's UID is kept (``DavObject``) so the
app finds its object again; ``client_uid`` says it to whoever renders the task. A new to-do
without a deadline is due today (all day, in the user's time zone).

What cardcrm cannot represent is refused with the CalDAV precondition it fails
(``DavRefusal``), before anything is changed: unreadable data, a component the collection does
not take, several components (exceptions of a series), a repeat rule other than the one cardcrm
rendered for the task (tasks repeat by rules set in cardcrm; the rendered one, parsed, is
taken back as no change, so completing a recurring to-do closes its occurrence and core makes
the next, a new object), RDATE or EXDATE, a removed deadline or one past the calendar
cardcrm keeps, a changed UID, a new object with a UID already in use. Core's refusals come
back as 403 (no permission, a plugin's veto, invalid values) or 409/412 (state), with core's
words; core unreachable is a 503.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cardcrm.common.db import upsert
from cardcrm.common.text import printable
from cardcrm.common.timeutil import OUT_OF_CALENDAR, utcnow
from cardcrm.common.translate import gettext as _
from cardcrm.sidecar.core_client import CoreError, CoreUnavailable
from flask import current_app
from icalendar import Calendar, Event, Todo, vText
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..context import CalendarContext
from ..ical import (
    VALID_DATA,
    VALID_OBJECT,
    RemoteTask,
    UnreadableObject,
    read_object,
    repeat_rule,
    same_rule,
)
from ..mirror import log_changes
from ..models import MirrorCard, MirrorTask
from .write_models import DavInbox, DavObject

log = logging.getLogger(__name__)

CALDAV = "{urn:ietf:params:xml:ns:caldav}"
NEED_PRIVILEGES = "{DAV:}need-privileges"
NO_UID_CONFLICT = f"{CALDAV}no-uid-conflict"
SUPPORTED_COMPONENT = f"{CALDAV}supported-calendar-component"
#: The component each collection holds.
KINDS = {"tasks": "VTODO", "deadlines": "VEVENT"}
#: How cardcrm writes the card under a summary (``ical.Renderer``).
TITLE_SEPARATOR = " — "
#: ``DavInbox.card_id`` while one request makes the card (no card has id 0).
INBOX_CLAIMED = 0
#: How long a request waits for another to make the inbox card, and how often it looks.
INBOX_WAIT_SECONDS = 15.0
INBOX_POLL_SECONDS = 0.05
#: A claim older than this is of a process that died before making the card: taken over.
INBOX_CLAIM_EXPIRES = timedelta(seconds=60)


class DavRefusal(Exception):
    """A PUT or DELETE that changes nothing: ``status`` is the HTTP status to answer,
    ``condition`` the precondition it fails (a Clark name, or ``None``), ``message`` why."""

    def __init__(self, status: int, condition: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.condition = condition
        self.message = message

    def __repr__(self) -> str:
        return f"DavRefusal({self.status}, {self.condition!r}, {self.message!r})"


# --- the interface dav/views.py calls ------------------------------------------------------


def apply_put(user: dict, collection: str, current: dict | None, body: bytes) -> dict:
    """Apply a PUT of ``body`` to ``collection`` (``tasks`` or ``deadlines``) as ``user``:
    a change of the task ``current`` (core's JSON) or, with ``None``, a new task. Returns
    core's JSON of the task after it; raises ``DavRefusal``."""
    return Writer(_context(), user).put(collection, current, body)


def apply_delete(user: dict, current: dict) -> dict:
    """DELETE of a task's object: the task is cancelled (a closed one stays as it is)."""
    return Writer(_context(), user).delete(current)


def client_uid(session: Any, task_id: int) -> str | None:
    """The UID a calendar app gave the object it made for ``task_id`` (``None``: cardcrm's
    own, ``Renderer.uid``): the task's object must keep it, or the app loses it."""
    return session.scalar(select(DavObject.uid).where(DavObject.task_id == task_id))


def task_of_uid(session: Any, user_id: int, uid: str) -> int | None:
    """The task a calendar app's own UID stands for, among the user's objects."""
    return session.scalar(
        select(DavObject.task_id).where(DavObject.user_id == user_id, DavObject.uid == uid)
    )


def _overrides(body: bytes) -> bool:
    """Whether the object (readable: ``read_object`` took it) holds an exception of a series,
    a component with a RECURRENCE-ID: alone, it would otherwise be taken for the task."""
    calendar = Calendar.from_ical(body.decode())
    return any("RECURRENCE-ID" in component for component in calendar.walk())


def _context() -> CalendarContext:
    context: CalendarContext = current_app.extensions["calendar_sync"]
    return context


# --- mapping shared with the CalDAV sync (``caldav/pull.py``) -------------------------------


def deadline_change(
    all_day: bool, current: date | datetime, new: date | datetime
) -> tuple[str, dict[str, Any]] | None:
    """How a new deadline is made in core: ``("postpone", body)`` for a later one of the same
    kind, ``("update", body)`` for an earlier one or a change between all-day and timed, or
    ``None`` when it is the same."""
    timed = isinstance(new, datetime)
    if timed != all_day:  # same kind: a date for an all-day task, an instant for a timed one
        if new == current:
            return None
        if new > current:
            return "postpone", {"due": new.isoformat()}
        return "update", {"due": new.isoformat()}
    return "update", {"due": new.isoformat(), "all_day": not timed}


def task_deadline(task: dict[str, Any]) -> date | datetime:
    """A task's deadline from core's JSON: its date if all-day, else its instant."""
    if task.get("all_day") and task.get("due_date"):
        return date.fromisoformat(task["due_date"])
    return datetime.fromisoformat(str(task["due"]).replace("Z", "+00:00"))


def summary_text(summary: str | None, text: str, card_title: str | None) -> str | None:
    """The task text a SUMMARY says, if it differs from ``text`` (``None``: unchanged).

    cardcrm writes ``<text> — <card title>``; the title is taken off (any ``— …`` tail when the
    title is not known, or empty and so shown as "Card <id>" in some language)."""
    if summary is None:
        return None
    value = printable(summary, one_line=True).strip()
    if card_title:
        suffix = TITLE_SEPARATOR + printable(card_title, one_line=True)
        if value.endswith(suffix):
            value = value[: -len(suffix)]
    elif TITLE_SEPARATOR in value:
        value = value.rsplit(TITLE_SEPARATOR, 1)[0]
    value = value.strip()
    if not value or value == printable(text, one_line=True).strip():
        return None
    return value


def description_note(description: str | None, text: str, card_url: str) -> str | None:
    """The note a DESCRIPTION holds beyond what cardcrm writes there (``None``: none).

    cardcrm writes the task's text, a blank line, ``Card: <title>`` (in the owner's language)
    and the card's address; those are taken off, and whatever else is there is the note. The
    address and the line above it are taken off wherever they are, since an app's user may
    type a note after them as well as before them."""
    if not description:
        return None
    lines = description.replace("\r\n", "\n").rstrip().split("\n")
    stripped = [line.strip() for line in lines]
    if card_url and card_url in stripped:
        at = len(stripped) - 1 - stripped[::-1].index(card_url)
        # the address and the "Card: …" line above it
        lines = lines[: max(at - 1, 0)] + lines[at + 1 :]
    body = "\n".join(lines).strip()
    own = printable(text).strip()
    if not body or body == own:
        return None
    if own and body.startswith(own + "\n"):
        body = body[len(own) :].strip()
    return body or None


def noted_description(description: str, text: str, note: str) -> str:
    """cardcrm's DESCRIPTION (``description``: the task's text, then its card) with the
    task's ``note`` on the line after the text, where an app's user writes one: the object a
    client wrote a note into shows it back (``description_note`` reads it again as the same
    note), so the app's next sync keeps it."""
    own = printable(text)
    if own and description.startswith(own + "\n"):
        return f"{own}\n{note}{description[len(own) :]}"
    return f"{note}\n\n{description.lstrip()}" if description.strip() else note


def noted_component(
    renderer: Any, kind: str, task: Any, card: Any, uid: str | None, language: str, note: str
) -> str:
    """The component of a task whose calendar object wrote ``note`` (``write_note``), as
    text: cardcrm's, its DESCRIPTION with the note (``noted_description``), written by
    icalendar (the same bytes as ``Renderer.render`` otherwise). cardcrm's CalDAV server
    (``store.py``) and its pushes to a CalDAV account (``caldav/push.py``) show it so."""
    component = renderer.component(
        Todo() if kind == "VTODO" else Event(), task, card, uid, language
    )
    set_note(component, str(task.data.get("text") or ""), note)
    text: str = component.to_ical(sorted=False).decode()
    return text


def set_note(component: Any, text: str, note: str) -> None:
    """Put ``note`` into a rendered component's DESCRIPTION (``noted_description``)."""
    description = str(component.get("DESCRIPTION") or "")
    component["DESCRIPTION"] = vText(noted_description(description, text, note))


def note_of(session: Any, task_id: int) -> str | None:
    """The note a calendar object of the task wrote (``None``: none)."""
    return session.scalar(select(DavObject.note).where(DavObject.task_id == task_id))


# --- the writer -------------------------------------------------------------------------------


class Writer:
    """One PUT or DELETE of ``user``'s, against core."""

    def __init__(self, context: CalendarContext, user: dict) -> None:
        self.context = context
        self.core = context.core
        self.user = user
        self.user_id = int(user["id"])
        self.timezone = str(user.get("timezone") or "UTC")

    # --- PUT ----------------------------------------------------------------------------------

    def put(self, collection: str, current: dict | None, body: bytes) -> dict:
        kind = KINDS.get(collection)
        if kind is None:
            raise DavRefusal(403, SUPPORTED_COMPONENT, f"No calendar {collection!r}.")
        try:
            remote = read_object(body, kind, self.timezone)
        except UnreadableObject as error:
            raise DavRefusal(403, error.condition, error.message) from None
        if _overrides(body):
            raise DavRefusal(
                403,
                VALID_OBJECT,
                "A task has no exceptions to its series: one occurrence (RECURRENCE-ID) cannot "
                "be changed on its own. Change the to-do itself; completing it completes the "
                "occurrence due now.",
            )
        if remote.repeats and not self._own_rule(current, remote):
            raise DavRefusal(
                403,
                VALID_OBJECT,
                "A task repeats by the rule set in cardcrm; a calendar app cannot make or "
                "change a repeat (RRULE, RDATE, EXDATE).",
            )
        if remote.due_out_of_range:
            raise DavRefusal(403, VALID_DATA, str(OUT_OF_CALENDAR))
        with _core_refusals():
            if current is None:
                return self._create(kind, remote)
            return self._change(kind, current, remote)

    def _own_rule(self, current: dict | None, remote: RemoteTask) -> bool:
        """Whether the object repeats by the one RRULE cardcrm renders for the task now (an
        app PUTs back what it got), parsed and compared; no RDATE nor EXDATE."""
        if current is None or remote.dates or len(remote.rules) != 1:
            return False
        with self.context.database.session() as session:
            task = session.get(MirrorTask, int(current["id"]))
            rule = repeat_rule(task) if task is not None else None
        return rule is not None and same_rule(remote.rules[0], rule)

    def _change(self, kind: str, task: dict, remote: RemoteTask) -> dict:
        task_id = int(task["id"])
        expected = self._uid_of(task_id)
        if remote.uid != expected:
            raise DavRefusal(
                403, VALID_OBJECT, f"The object's UID is {expected}; a UID does not change."
            )
        if remote.due is None:
            raise DavRefusal(
                403,
                VALID_OBJECT,
                "A task always has a deadline (DUE of a to-do, DTSTART of an event).",
            )
        closing = remote.completed or remote.cancelled
        version = int(task["version"])
        if task["status"] != "open" and not closing and kind == "VTODO":
            task = self.core.reopen_task(task_id, self.user_id, version)
            version = int(task["version"])
        changes: dict[str, Any] = {}
        before = str(task["text"])
        # What cardcrm itself wrote (a plugin may have added to it) is no change.
        language = str(self.user.get("language") or "en")
        summary, description = rendering(self.context, task_id, kind, language, expected)
        new_text = None
        if remote.summary != summary:
            new_text = summary_text(remote.summary, before, self._card_title(task))
        if new_text is not None:
            changes["text"] = new_text
        postpone: str | None = None
        change = deadline_change(bool(task.get("all_day")), task_deadline(task), remote.due)
        if change is not None:
            how, body = change
            if how == "postpone" and task["status"] == "open":
                postpone = body["due"]
            else:
                changes.update(body)
        if changes:
            task = self.core.update_task(task_id, self.user_id, changes, version)
            version = int(task["version"])
        if postpone is not None:
            task = self.core.postpone_task(task_id, self.user_id, postpone, version)
            version = int(task["version"])
        # The description begins with the text as it was, or as the PUT made it.
        note = None
        if remote.description != description:
            note = description_note(remote.description, before, self._url(task))
            if note is not None and new_text is not None:
                note = description_note(remote.description, new_text, self._url(task))
        if note is not None:
            write_note(self.context, self.user_id, task, note)
        if closing and task["status"] == "open":
            outcome = "done" if remote.completed else "cancelled"
            task = self.core.close_task(task_id, self.user_id, outcome, version=version)
        return task

    def _create(self, kind: str, remote: RemoteTask) -> dict:
        uid = str(remote.uid)
        if self._is_ours(uid):
            raise DavRefusal(
                409, NO_UID_CONFLICT, f"{uid} is the UID of a task cardcrm already has."
            )
        with self.context.database.session() as session:
            if task_of_uid(session, self.user_id, uid) is not None:
                raise DavRefusal(409, NO_UID_CONFLICT, f"An object with the UID {uid} exists.")
        text = printable(remote.summary or "", one_line=True).strip()
        if not text:
            raise DavRefusal(403, VALID_OBJECT, "A new task needs a SUMMARY: its text.")
        due = remote.due if remote.due is not None else self._today()
        timed = isinstance(due, datetime)
        body = {
            "text": text,
            "due": due.isoformat(),
            "all_day": not timed,
            "assignee_id": self.user_id,
        }
        card_id = self._inbox()
        try:
            task = self.core.create_task(card_id, self.user_id, body)
        except CoreUnavailable:
            raise
        except CoreError as error:
            if error.status not in (404, 409):
                raise
            # The inbox card is in the trash (409), gone or out of the user's sight: a new one.
            self._forget_inbox(card_id)
            task = self.core.create_task(self._inbox(), self.user_id, body)
        with self.context.database.writer.begin() as session:
            session.add(DavObject(task_id=int(task["id"]), user_id=self.user_id, uid=uid))
        note = description_note(remote.description, text, "")
        if note is not None:
            write_note(self.context, self.user_id, task, note)
        if remote.completed or remote.cancelled:
            outcome = "done" if remote.completed else "cancelled"
            task = self.core.close_task(
                int(task["id"]), self.user_id, outcome, version=int(task["version"])
            )
        return task

    # --- DELETE -------------------------------------------------------------------------------

    def delete(self, task: dict) -> dict:
        if task["status"] != "open":
            return task
        with _core_refusals():
            return self.core.close_task(
                int(task["id"]), self.user_id, "cancelled", version=int(task["version"])
            )

    # --- helpers ------------------------------------------------------------------------------

    def _uid_of(self, task_id: int) -> str:
        with self.context.database.session() as session:
            uid = client_uid(session, task_id)
        return uid or self.context.renderer.uid(task_id)

    def _is_ours(self, uid: str) -> bool:
        domain = re.escape(self.context.renderer.uid_domain)
        return re.fullmatch(rf"task-[0-9]+@{domain}", uid) is not None

    def _card_title(self, task: dict) -> str | None:
        with self.context.database.session() as session:
            card = session.get(MirrorCard, int(task["card_id"]))
            return card.title if card is not None else None

    def _url(self, task: dict) -> str:
        return self.context.renderer.card_url(int(task["card_id"]))

    def _today(self) -> date:
        try:
            zone: Any = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return self.context.clock().astimezone(zone).date()

    def _inbox(self) -> int:
        """The user's inbox card, made on first use in the first product they may add to.

        Two PUTs at the same moment (a phone syncing two new to-dos) must not make two cards:
        the first claims the user's ``DavInbox`` row (``card_id`` ``INBOX_CLAIMED``) before
        asking core, in its own transaction, so any process on the database sees it; the
        others wait for the card it makes (``_inbox_made``)."""
        deadline = time.monotonic() + INBOX_WAIT_SECONDS
        while True:
            with self.context.database.session() as session:
                inbox = session.get(DavInbox, self.user_id)
                card_id = inbox.card_id if inbox is not None else None
                claimed_at = inbox.created_at if inbox is not None else None
            if card_id is not None and card_id != INBOX_CLAIMED:
                return card_id
            if card_id is None and self._claim_inbox():
                break
            if claimed_at is not None and self._take_over_claim(claimed_at):
                break  # the claim of a process that died before it made the card
            if time.monotonic() > deadline:
                raise CoreUnavailable("the inbox card is still being made by another request", 503)
            time.sleep(INBOX_POLL_SECONDS)
        try:
            made = self._make_inbox()
        except BaseException:
            self._forget_inbox(INBOX_CLAIMED)
            raise
        with self.context.database.writer.begin() as session:
            session.execute(
                update(DavInbox)
                .where(DavInbox.user_id == self.user_id)
                .values(card_id=made, created_at=utcnow())
            )
        return made

    def _claim_inbox(self) -> bool:
        try:
            with self.context.database.writer.begin() as session:
                session.add(
                    DavInbox(user_id=self.user_id, card_id=INBOX_CLAIMED, created_at=utcnow())
                )
        except IntegrityError:
            return False  # another request claimed it first
        return True

    def _take_over_claim(self, claimed_at: datetime) -> bool:
        if utcnow() - claimed_at < INBOX_CLAIM_EXPIRES:
            return False
        with self.context.database.writer.begin() as session:
            taken = session.execute(
                update(DavInbox)
                .where(
                    DavInbox.user_id == self.user_id,
                    DavInbox.card_id == INBOX_CLAIMED,
                    DavInbox.created_at == claimed_at,
                )
                .values(created_at=utcnow())
            )
        return bool(getattr(taken, "rowcount", 0))

    def _make_inbox(self) -> int:
        renderer = self.context.renderer
        with renderer.speaking(str(self.user.get("language") or "en")):
            title = _("Calendar inbox")
        refusal: CoreError | None = None
        for product in sorted(self.core.products(self.user_id), key=lambda item: item["id"]):
            try:
                card = self.core.create_card(
                    int(product["id"]), self.user_id, {"title": title, "owner_id": self.user_id}
                )
            except CoreUnavailable:
                raise
            except CoreError as error:
                if error.status not in (403, 404, 409, 422):
                    raise
                refusal = error
                continue
            return int(card["id"])
        detail = f" ({refusal.detail})" if refusal is not None and refusal.detail else ""
        raise DavRefusal(
            403,
            NEED_PRIVILEGES,
            f"New tasks go to your inbox card, but you may add cards to no product{detail}.",
        )

    def _forget_inbox(self, card_id: int) -> None:
        with self.context.database.writer.begin() as session:
            inbox = session.get(DavInbox, self.user_id)
            if inbox is not None and inbox.card_id == card_id:
                session.delete(inbox)


def write_note(context: CalendarContext, user_id: int, task: dict, note: str) -> None:
    """A calendar object's note, as ``user_id``, on the task's card: written once, then edited
    (unless unchanged), so that the same description sent again adds no second note. The
    object shows it from then on, in its DESCRIPTION (``noted_description``)."""
    core = context.core
    task_id = int(task["id"])
    with context.database.session() as session:
        known = session.get(DavObject, task_id)
        note_id, written = (known.note_id, known.note) if known else (None, None)
    if note == written:
        return
    saved: dict[str, Any] | None = None
    if note_id is not None:
        try:
            saved = core.update_note(note_id, user_id, note)
        except CoreUnavailable:
            raise
        except CoreError as error:
            if error.status != 404:
                raise
    if saved is None:
        saved = core.create_note(int(task["card_id"]), user_id, note)
    values = {
        "task_id": task_id,
        "user_id": user_id,
        "uid": None,
        "note_id": int(saved["id"]),
        "note": note,
        "created_at": utcnow(),
    }
    with context.database.writer.begin() as session:
        changes = {"note_id": values["note_id"], "note": note}
        upsert(session, DavObject, [values], ["task_id"], changes)
        # The object shows its note (``store.py``): its bytes change, and so does the
        # collection's sync token, though the task itself may not have.
        log_changes(session, [(user_id, task_id)])


def rendering(
    context: CalendarContext, task_id: int, kind: str, language: str, uid: str | None = None
) -> tuple[str | None, str | None]:
    """The SUMMARY and DESCRIPTION cardcrm writes for the task now, from the mirror, as a
    client would read them back (``None``, ``None``: the mirror does not have the task)."""
    with context.database.session() as session:
        task = session.get(MirrorTask, task_id)
        card = session.get(MirrorCard, task.card_id) if task is not None else None
        if task is None or card is None:
            return None, None
        component = context.renderer.component(
            Todo() if kind == "VTODO" else Event(), task, card, uid, language
        )
    summary, description = component.get("SUMMARY"), component.get("DESCRIPTION")
    return (
        printable(str(summary)) if summary else None,
        printable(str(description)) if description else None,
    )


@contextmanager
def _core_refusals() -> Iterator[None]:
    """Core's answers as CalDAV's: 4xx refusals with core's words, 503 when it is down."""
    try:
        yield
    except CoreUnavailable as error:
        log.warning("core is unavailable for a CalDAV write: %s", error)
        raise DavRefusal(503, None, "cardcrm's core is unavailable; try again later.") from None
    except CoreError as error:
        detail = error.detail or str(error)
        if error.status == 412:
            raise DavRefusal(412, None, f"The task changed meanwhile: {detail}") from None
        if error.status == 409:
            raise DavRefusal(409, None, detail) from None
        if error.status in (401, 403, 404):
            raise DavRefusal(403, NEED_PRIVILEGES, detail) from None
        if error.status == 422:
            raise DavRefusal(403, VALID_OBJECT, detail) from None
        raise DavRefusal(403, None, detail) from None
