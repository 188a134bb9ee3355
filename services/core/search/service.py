"""Global search: the cards the caller may see whose title, fields or notes hold every word
of the query, and the contacts whose name, e-mail or phone do; case and accents ignored.

Cards are matched on ``cards.search_text`` (folded title and field values, kept by every
write), newest change first. Trashed cards are left out: they are found in the trash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..access import visible_cards_condition
from ..auth.models import User
from ..cards.models import Card
from ..contacts import service as contacts
from ..notes.models import Note
from ..products.models import Product, Status
from ..textsearch import fold


@dataclass(frozen=True)
class Hit:
    kind: str
    id: int
    title: str
    detail: str | None = None
    product: dict[str, Any] | None = None
    url: str = ""


def search(session: Session, viewer: User, q: str, limit: int) -> list[Hit]:
    """Cards first (at most ``limit``), then contacts (at most ``limit``)."""
    words = fold(q).split()
    if not words:
        return []
    return _cards(session, viewer, words, limit) + _contacts(session, q, limit)


def _cards(session: Session, viewer: User, words: list[str], limit: int) -> list[Hit]:
    # A LIKE '%word%' reads every card anyway; done first on its own (a materialized CTE) the
    # database scans the table once. Left to the planner, SQLite walked the (product_id,
    # updated_at) index for the access rule instead: 5x the time (bench/search.py).
    found = (
        select(Card.id)
        .where(Card.trashed_at.is_(None), *(_word_condition(word) for word in words))
        .cte("found")
        .prefix_with("MATERIALIZED")
    )
    query = (
        select(Card.id, Card.title, Product.id, Product.name, Status.name)
        .join(found, found.c.id == Card.id)
        .join(Product, Product.id == Card.product_id)
        .join(Status, Status.id == Card.status_id)
        .order_by(Card.updated_at.desc(), Card.id.desc())
        .limit(limit)
    )
    visible = visible_cards_condition(session, viewer)
    if visible is not None:
        query = query.where(visible)
    return [
        Hit(
            kind="card",
            id=card_id,
            title=title,
            detail=status,
            product={"id": product_id, "name": product_name},
            url=f"/cards/{card_id}",
        )
        for card_id, title, product_id, product_name, status in session.execute(query)
    ]


def _word_condition(word: str) -> ColumnElement[bool]:
    """The card holds ``word`` (folded) in its title or fields, or in one of its notes."""
    pattern = f"%{_escape(word)}%"
    in_notes = select(Note.card_id).where(Note.search_text.like(pattern, escape="\\"))
    return or_(Card.search_text.like(pattern, escape="\\"), Card.id.in_(in_notes))


def _contacts(session: Session, q: str, limit: int) -> list[Hit]:
    hits = []
    for contact in contacts.search(session, q, None, None, limit):
        detail = ", ".join([*contact.emails[:1], *contact.phones[:1]]) or None
        hits.append(
            Hit(
                kind="contact",
                id=contact.id,
                title=contact.name,
                detail=_company(detail) if contact.kind == "company" else detail,
                url=f"/contacts/{contact.id}",
            )
        )
    return hits


def _company(detail: str | None) -> str:
    """A company's line says so, in the reader's language (the web page's and the API's)."""
    return _("company, %(detail)s", detail=detail) if detail else _("company")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
