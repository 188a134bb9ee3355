"""Rules for notes: write, edit and delete a card's notes, and whom a note may mention.

Every write locks the note's card first (as tasks do), records history and an event, and moves
the card's ``updated_at`` — but not its ``version``: a note is not an edit of the card, so a
card form open in another tab stays valid (tasks do the same).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Conflict, Forbidden, Invalid, NotFound, ensure_version
from cardcrm.common.events import EventType
from cardcrm.common.timeutil import isoformat_z, utcnow
from cardcrm.common.translate import gettext as _
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ..access import scope_of
from ..auth.models import User
from ..cards.history import record_history
from ..cards.models import Card
from ..cards.service import get_card, get_live_card
from ..events import record_event
from ..products.models import Membership
from ..textsearch import fold
from . import rendering
from .models import Note

#: How much of a note its history rows keep (the note itself is in the timeline).
EXCERPT = 200
#: The @ picker's longest list.
MENTIONABLE_LIMIT = 20

NOT_A_MEMBER = "not a member of the card's product"
NOT_THEIR_CARD = "sees only their own cards in the card's product"


def note_data(note: Note) -> dict[str, Any]:
    """The note as the API shows it (``NoteSchema``)."""
    return {
        "id": note.id,
        "card_id": note.card_id,
        "author_id": note.author_id,
        "body": note.body,
        "html": note.html,
        "mentions": list(note.mentions or []),
        "created_at": isoformat_z(note.created_at),
        "updated_at": isoformat_z(note.updated_at),
        "version": note.version,
    }


def get_note(session: Session, note_id: int, viewer: User | None = None) -> Note:
    """The note; with ``viewer``, only if that user may see its card (else 404)."""
    note = session.get(Note, note_id)
    if note is None:
        raise NotFound(_("No note %(id)s.", id=note_id))
    if viewer is not None and not scope_of(session, viewer).sees_card(note.card):
        raise NotFound(_("No note %(id)s.", id=note_id))
    return note


def list_notes(
    session: Session, card_id: int, viewer: User, before: tuple[datetime, int] | None, limit: int
) -> list[Note]:
    """A card's notes, newest first, after the position ``before`` (``(created_at, id)``)."""
    get_card(session, card_id, viewer=viewer)
    query = select(Note).where(Note.card_id == card_id)
    if before is not None:
        at, note_id = before
        query = query.where(
            or_(Note.created_at < at, and_(Note.created_at == at, Note.id < note_id))
        )
    return list(
        session.scalars(query.order_by(Note.created_at.desc(), Note.id.desc()).limit(limit))
    )


def create_note(
    session: Session, actor: User, card_id: int, data: dict[str, Any]
) -> tuple[Note, list[dict[str, Any]]]:
    """Write a note on a card; returns it and the mentioned users who were not notified."""
    with write_transaction(session):
        card = get_live_card(session, card_id, lock=True, viewer=actor)
        body = _checked_body(data["body"])
        mentions, not_notified = _mentions(session, card, data.get("mentions") or [])
        now = utcnow()
        note = Note(
            card=card,
            card_id=card.id,
            product_id=card.product_id,
            author_id=actor.id,
            body=body,
            html=rendering.render(body),
            search_text=rendering.search_text(body),
            mentions=mentions,
            created_at=now,
            updated_at=now,
        )
        session.add(note)
        session.flush()
        _changed(session, card, note, EventType.NOTE_CREATED, actor, {})
    return note, not_notified


def update_note(
    session: Session,
    actor: User,
    note_id: int,
    changes: dict[str, Any],
    expected: set[int] | None,
) -> tuple[Note, list[dict[str, Any]]]:
    """Edit a note's body or mentions (its author or an admin)."""
    with write_transaction(session):
        note, card = _lock(session, note_id, actor)
        _check_author(note, actor)
        ensure_version(note.version, expected)
        before = list(note.mentions or [])
        not_notified: list[dict[str, Any]] = []
        with session.no_autoflush:
            old_body = note.body
            if "body" in changes and changes["body"] != note.body:
                body = _checked_body(changes["body"])
                note.body = body
                note.html = rendering.render(body)
                note.search_text = rendering.search_text(body)
            mentions = before
            if "mentions" in changes:
                mentions, not_notified = _mentions(session, card, changes["mentions"] or [])
        if note.body == old_body and mentions == before:
            return note, not_notified
        note.mentions = mentions
        note.updated_at = utcnow()
        session.flush()
        new_mentions = [user_id for user_id in mentions if user_id not in before]
        history = {"before": _excerpt(old_body)} if note.body != old_body else {}
        _changed(
            session,
            card,
            note,
            EventType.NOTE_UPDATED,
            actor,
            history,
            extra={"new_mentions": new_mentions},
        )
    return note, not_notified


def delete_note(session: Session, actor: User, note_id: int, expected: set[int] | None) -> None:
    """Delete a note for good (its author or an admin); its history row stays."""
    with write_transaction(session):
        note, card = _lock(session, note_id, actor)
        _check_author(note, actor)
        ensure_version(note.version, expected)
        payload = _payload(note, card)
        history = _history_data(note, {})
        session.delete(note)
        session.flush()
        record_history(session, card, EventType.NOTE_DELETED, actor, history)
        record_event(session, EventType.NOTE_DELETED, payload, actor=actor)
        _touch(session, card)


def preview(body: str) -> str:
    """The HTML a note with ``body`` would show (nothing is stored)."""
    return rendering.render(body)


def mentionable(session: Session, card: Card, q: str, limit: int = MENTIONABLE_LIMIT) -> list[User]:
    """Users who may see ``card`` whose name (or a word of it) or e-mail starts with ``q``,
    ignoring case and accents; at most ``limit``, by name.

    The candidates are the product's members and the admins, a few hundred at most, so the
    folding is done here rather than kept in a column.
    """
    members = select(Membership.user_id).where(Membership.product_id == card.product_id)
    if card.owner_id is not None:  # members limited to their own cards see only the owner's
        members = members.where(
            or_(Membership.own_cards_only.is_(False), Membership.user_id == card.owner_id)
        )
    users = session.scalars(
        select(User)
        .where(or_(User.is_admin.is_(True), User.id.in_(members)))
        .order_by(User.name, User.id)
    )
    wanted = fold(q.strip().lstrip("@"))
    found = []
    for user in users:
        if _matches(user, wanted):
            found.append(user)
            if len(found) == limit:
                break
    return found


# --- helpers ----------------------------------------------------------------------------------


def _matches(user: User, wanted: str) -> bool:
    if not wanted:
        return True
    name = fold(user.name)
    if name.startswith(wanted) or fold(user.email).startswith(wanted):
        return True
    return any(word.startswith(wanted) for word in name.split())


def _checked_body(body: str) -> str:
    if not body.strip():
        raise Invalid({"body": [_("A note needs some text.")]})
    return body


def _mentions(
    session: Session, card: Card, user_ids: list[int]
) -> tuple[list[int], list[dict[str, Any]]]:
    """The mentioned users who may see ``card``, and the others with the reason."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return [], []
    users = {user.id: user for user in session.scalars(select(User).where(User.id.in_(wanted)))}
    missing = [user_id for user_id in wanted if user_id not in users]
    if missing:
        raise Invalid({"mentions": [_("No user %(ids)s.", ids=", ".join(map(str, missing)))]})
    mentions, not_notified = [], []
    for user_id in wanted:
        scope = scope_of(session, users[user_id])
        if scope.sees_card(card):
            mentions.append(user_id)
        else:
            reason = NOT_THEIR_CARD if card.product_id in scope.own_cards_products else NOT_A_MEMBER
            not_notified.append({"user_id": user_id, "reason": reason})
    return mentions, not_notified


def _lock(session: Session, note_id: int, actor: User) -> tuple[Note, Card]:
    """The note and its card, the card's row locked; 404 if ``actor`` may not see them."""
    card_id = session.scalar(select(Note.card_id).where(Note.id == note_id))
    if card_id is None:
        raise NotFound(_("No note %(id)s.", id=note_id))
    try:
        card = get_card(session, card_id, lock=True, viewer=actor)
    except NotFound as error:
        raise NotFound(_("No note %(id)s.", id=note_id)) from error
    note = session.get(Note, note_id, populate_existing=True)
    if note is None:
        raise NotFound(_("No note %(id)s.", id=note_id))
    if card.trashed:  # after the 404s, so a note one may not see tells nothing more
        raise Conflict(_("The card is in the trash; restore it before changing it."))
    return note, card


def _check_author(note: Note, actor: User) -> None:
    if not actor.is_admin and note.author_id != actor.id:
        raise Forbidden(_("Only the note's author or an admin may change or delete it."))


def _excerpt(body: str) -> str:
    return body if len(body) <= EXCERPT else body[: EXCERPT - 1] + "…"


def _history_data(note: Note, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "note_id": note.id,
        "author_id": note.author_id,
        "excerpt": _excerpt(note.body),
        **extra,
    }


def _payload(note: Note, card: Card) -> dict[str, Any]:
    """The event's data: the note, and what sidecars need to apply the card's access rules."""
    return {**note_data(note), "product_id": card.product_id, "owner_id": card.owner_id}


def _changed(
    session: Session,
    card: Card,
    note: Note,
    kind: EventType,
    actor: User,
    history: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> None:
    record_history(session, card, kind, actor, _history_data(note, history))
    record_event(session, kind, {**_payload(note, card), **(extra or {})}, actor=actor)
    _touch(session, card)


def _touch(session: Session, card: Card) -> None:
    """Move the card's ``updated_at`` (not its version: see the module's docstring)."""
    session.execute(
        update(Card)
        .where(Card.id == card.id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
