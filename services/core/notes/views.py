"""HTTP API of notes: write on a card, list, read, edit, delete; preview; the @ picker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cardcrm.common.api import ApiBlueprint, Page, Reply, expected_versions
from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.translate import gettext as _

from ..auth.service import current_user
from ..cards.service import get_card
from . import service, timeline  # noqa: F401  (timeline: registers the "note" source)
from .models import Note
from .schemas import (
    MentionableArgsSchema,
    MentionableSchema,
    NoteCreateSchema,
    NoteListArgsSchema,
    NoteSchema,
    NoteUpdateSchema,
    NoteWrittenSchema,
    PreviewedSchema,
    PreviewSchema,
)

bp = ApiBlueprint("notes", __name__, tag="Notes")


@dataclass
class Written:
    """A note as a write answers it: the note, and whom its mentions did not reach."""

    note: Note
    not_notified: list[dict[str, Any]]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.note, name)


@bp.operation(
    "/cards/<int:card_id>/notes",
    "POST",
    body=NoteCreateSchema,
    response=NoteWrittenSchema,
    status=201,
    errors=(404, 409, 422),
    scope="notes:write",
)
def create_note(card_id: int, body: dict[str, Any]) -> Reply:
    """Write a note on a card (Markdown), optionally mentioning users.

    Mentioned users who may not see the card are left out of `mentions` and listed in
    `not_notified` with the reason; nothing is sent to them.
    """
    note, not_notified = service.create_note(get_session(), current_user(), card_id, body)
    return Reply(Written(note, not_notified), headers={"Location": f"/api/v1/notes/{note.id}"})


@bp.operation(
    "/cards/<int:card_id>/notes",
    query=NoteListArgsSchema,
    response=NoteSchema,
    paginated=True,
    errors=(404, 422),
)
def list_notes(card_id: int, args: dict[str, Any]) -> Page:
    """A card's notes, newest first."""
    position = decode_cursor(args.get("cursor"))
    before = None
    if position is not None:
        try:
            before = (datetime.fromisoformat(position["at"]), int(position["id"]))
        except (KeyError, TypeError, ValueError) as error:
            raise Invalid({"cursor": [_("Not a cursor this API gave out.")]}) from error
    limit = args["limit"]
    notes = service.list_notes(get_session(), card_id, current_user(), before, limit + 1)
    cursor = None
    if len(notes) > limit:
        notes = notes[:limit]
        cursor = encode_cursor({"at": notes[-1].created_at.isoformat(), "id": notes[-1].id})
    return Page(notes, cursor)


@bp.operation("/notes/<int:note_id>", response=NoteSchema, errors=(404,))
def get_note(note_id: int) -> Any:
    """Read a note."""
    return service.get_note(get_session(), note_id, viewer=current_user())


@bp.operation(
    "/notes/<int:note_id>",
    "PATCH",
    body=NoteUpdateSchema,
    response=NoteWrittenSchema,
    errors=(403, 404, 409, 412, 422),
    scope="notes:write",
)
def update_note(note_id: int, body: dict[str, Any]) -> Written:
    """Edit a note's text or mentions (its author or an admin).

    `new_mentions` on the `note.updated` event names the mentions this edit added: only they
    are notified again.
    """
    note, not_notified = service.update_note(
        get_session(), current_user(), note_id, body, expected_versions()
    )
    return Written(note, not_notified)


@bp.operation("/notes/<int:note_id>", "DELETE", status=204, errors=(403, 404, 409, 412))
def delete_note(note_id: int) -> None:
    """Delete a note for good (its author or an admin); the card's history keeps a row."""
    service.delete_note(get_session(), current_user(), note_id, expected_versions())


@bp.operation("/notes/preview", "POST", body=PreviewSchema, response=PreviewedSchema)
def preview_note(body: dict[str, Any]) -> dict[str, str]:
    """The HTML a note with this Markdown would show; nothing is stored."""
    return {"html": service.preview(body["body"])}


@bp.operation(
    "/cards/<int:card_id>/mentionable",
    query=MentionableArgsSchema,
    response=MentionableSchema,
    paginated=True,
    errors=(404, 422),
)
def mentionable(card_id: int, args: dict[str, Any]) -> Page:
    """Users who may see the card, for the @ picker (at most 20, by name).

    `q` matches the start of the name, of a word of it, or of the e-mail, ignoring case and
    accents.
    """
    session = get_session()
    card = get_card(session, card_id, viewer=current_user())
    return Page(service.mentionable(session, card, args["q"]))
