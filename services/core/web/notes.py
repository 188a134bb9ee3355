"""The card page's notes: the composer (with a preview and the @ picker), and a note's own
edit and delete forms (``cards/_note.html``, which the timeline shows for each note).

With htmx, writing answers the notes panel again (an empty composer, and who a mention did not
reach) and an edit answers the note again; both carry ``HX-Trigger: card-changed`` so that the
timeline reloads. Without JavaScript each form is a plain POST that redirects back to the card.
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import CardcrmError, PreconditionFailed
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from ..cards import service as cards
from ..cards.models import Card
from ..notes import service
from ..notes.schemas import NoteCreateSchema, NoteUpdateSchema, PreviewSchema
from ..notes.service import NOT_A_MEMBER, NOT_THEIR_CARD
from .cards import CARD_PAGE_PARTS, card_context
from .form_messages import worded
from .forms import messages_of
from .lookups import all_users, user_names
from .security import current_user, is_htmx

bp = Blueprint("notes", __name__)

#: How many of a card's notes the notes panel lists when no timeline panel shows them.
RECENT_NOTES = 20
CHANGED = {"HX-Trigger": "card-changed"}
NO_TEXT = _l("A note needs some text.")
#: Why a mention did not reach someone, in words (the API gives the English reason as data).
REASONS = {
    NOT_A_MEMBER: _l("not a member of the card's product"),
    NOT_THEIR_CARD: _l("sees only their own cards in the card's product"),
}
#: The timeline panel's endpoint (web/timeline.py): where notes show when it is there.
TIMELINE_PANEL = "web.timeline.panel"


def notes_part(db: Session, card: Card) -> dict[str, Any]:
    """What ``cards/_notes.html`` needs on the card page.

    The notes themselves are the timeline's to show; only an app without the timeline's panel
    has the notes panel list the latest ones."""
    user = current_user()
    listed_here = TIMELINE_PANEL not in current_app.view_functions
    recent = service.list_notes(db, card.id, user, None, RECENT_NOTES) if listed_here else []
    return {
        "note_draft": {},
        "note_errors": {},
        "not_notified": [],
        "recent_notes": [service.note_data(note) for note in recent],
    }


CARD_PAGE_PARTS.append(notes_part)


@bp.post("/cards/<int:card_id>/notes")
def create(card_id: int) -> Any:
    db, user = get_session(), current_user()
    card = cards.get_card(db, card_id, viewer=user)
    draft = {"body": _body(), "mentions": _mentions()}
    try:
        data = NoteCreateSchema().load(
            {"body": draft["body"], "mentions": [int(m) for m in draft["mentions"] if m.isdigit()]}
        )
        _saved_note, not_notified = service.create_note(db, user, card_id, data)
    except (CardcrmError, ValidationError) as error:
        errors = messages_of(error) or {"body": [getattr(error, "detail", None) or str(error)]}
        errors = worded(errors, draft, {"body": NO_TEXT})
        if not is_htmx():  # the whole card page, the draft kept beside its message
            context = card_context(db, card)
            context.update(note_draft=draft, note_errors=errors)
            return render_template("cards/show.html", **context), 422
        return _panel(db, card, draft=draft, errors=errors), 422
    refused = _refused(db, not_notified)
    if not is_htmx():
        flash(_saved(refused))
        return redirect(_back(card_id))
    return _panel(db, card, not_notified=not_notified), 200, CHANGED


@bp.post("/notes/preview")
def preview() -> Any:
    """The HTML a note would show (the composer's Preview tab)."""
    try:
        body = PreviewSchema().load({"body": _body()})["body"]
    except ValidationError as error:
        return Response(" ".join(sum(messages_of(error).values(), [])), 422)
    html = service.preview(body) if body.strip() else ""
    return render_template("cards/_note_preview.html", html=html)


@bp.get("/cards/<int:card_id>/mentionable")
def mentionable(card_id: int) -> Any:
    """The @ picker's people: JSON ``[{"id", "name", "email"}]`` (``q``: what follows @)."""
    db = get_session()
    card = cards.get_card(db, card_id, viewer=current_user())
    q = request.args.get("q", "")[:200]
    users = service.mentionable(db, card, q)
    return jsonify([{"id": u.id, "name": u.name, "email": u.email} for u in users])


@bp.post("/notes/<int:note_id>/edit")
def edit(note_id: int) -> Any:
    db, user = get_session(), current_user()
    note = service.get_note(db, note_id, viewer=user)
    card_id = note.card_id
    version = request.form.get("version", "")
    expected = {int(version)} if version.isdigit() and len(version) < 10 else None
    draft: str | None = _body()
    error_text = None
    not_notified: list[dict[str, Any]] = []
    try:
        mentions = [int(value) for value in _mentions() if value.isdigit()]
        changes = NoteUpdateSchema().load({"body": draft, "mentions": mentions})
        _saved_note, not_notified = service.update_note(db, user, note_id, changes, expected)
    except PreconditionFailed:
        error_text = _(
            "Someone changed this note after you opened it; nothing was saved. "
            "Its new text is shown: edit again to change it."
        )
        draft = None
    except (CardcrmError, ValidationError) as error:
        messages = worded(messages_of(error), {"body": draft}, {"body": NO_TEXT})
        error_text = " ".join(sum(messages.values(), [])) or getattr(error, "detail", str(error))
    if not is_htmx():
        if error_text:
            flash(_("The note was not saved: %(reason)s", reason=error_text), "error")
        else:
            flash(_saved(_refused(db, not_notified)))
        return redirect(_back(card_id, note_id))
    note = service.get_note(db, note_id, viewer=user)
    db.refresh(note)
    context = {
        "note": service.note_data(note),
        "card": note.card,
        "note_edit_error": error_text,
        "note_edit_draft": draft if error_text else None,
        "note_notice": _refused(db, not_notified),
    }
    html = render_template("cards/_note.html", **context)
    return (html, 422 if error_text else 200, {} if error_text else CHANGED)


@bp.post("/notes/<int:note_id>/delete")
def delete(note_id: int) -> Any:
    db, user = get_session(), current_user()
    note = service.get_note(db, note_id, viewer=user)
    card_id = note.card_id
    version = request.form.get("version", "")
    expected = {int(version)} if version.isdigit() and len(version) < 10 else None
    try:
        service.delete_note(db, user, note_id, expected)
    except PreconditionFailed:
        message = _("Someone changed this note after you opened it; it was not deleted.")
        if is_htmx():
            shown = Markup('<p class="message error" role="alert">%s</p>') % message
            return Response(shown, 412)
        flash(message, "error")
        return redirect(_back(card_id, note_id))
    if is_htmx():
        return Response("", 200, CHANGED)
    flash(_("The note is deleted."))
    return redirect(_back(card_id))


# --- helpers ----------------------------------------------------------------------------------


def _body() -> str:
    """The textarea's text: browsers send CR LF line ends; stored as LF."""
    value = request.form.get("body", "")
    return value.replace("\r\n", "\n").strip("\n") if isinstance(value, str) else ""


def _mentions() -> list[str]:
    return [value.strip() for value in request.form.getlist("mentions")][:100]


def _back(card_id: int, note_id: int | None = None) -> str:
    anchor = f"note-{note_id}" if note_id else "notes"
    return url_for("web.cards.show", card_id=card_id) + "#" + anchor


def _refused(db: Session, not_notified: list[dict[str, Any]]) -> str:
    """Who a note's mentions did not reach, in words."""
    if not not_notified:
        return ""
    names = user_names(all_users(db))
    people = "; ".join(
        _(
            "%(name)s (%(reason)s)",
            name=names.get(item["user_id"]) or _("user %(id)s", id=item["user_id"]),
            reason=str(REASONS.get(item["reason"]) or item["reason"]),
        )
        for item in not_notified
    )
    return _("Not notified, since they may not see this card: %(people)s.", people=people)


def _saved(refused: str) -> str:
    """The flash of a saved note, with who a mention did not reach."""
    if refused:
        return _("The note is saved. %(not_notified)s", not_notified=refused)
    return _("The note is saved.")


def _panel(
    db: Session,
    card: Card,
    *,
    draft: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    not_notified: list[dict[str, Any]] | None = None,
) -> str:
    context = notes_part(db, card)
    users = all_users(db)
    context.update(
        card=card,
        names=user_names(users),
        note_draft=draft or {},
        note_errors=errors or {},
        not_notified=not_notified or [],
        not_notified_text=_refused(db, not_notified or []),
    )
    return render_template("cards/_notes.html", **context)
