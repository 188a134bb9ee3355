"""Global search: the cards the caller may see whose title, fields or notes hold every word
of the query, and the contacts whose name, e-mail or phone do; case and accents ignored.

Cards are matched on ``cards.search_text`` (folded title and field values, kept by every
write) and their notes' ``search_text``, newest change first. Trashed cards are left out:
they are found in the trash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, column, literal_column, or_, select, table, union
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..access import scope_of
from ..auth.models import User
from ..cards.models import Card
from ..contacts import service as contacts
from ..notes.models import Note
from ..products.models import Product, Status
from ..textsearch import fold, has_trigram_tables, trigram_phrase


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


#: How many of the most recently changed cards the first look reads (see ``_cards``).
RECENT = 2000


def _cards(session: Session, viewer: User, words: list[str], limit: int) -> list[Hit]:
    """The newest ``limit`` cards the viewer may see that hold every word.

    A common word is held by most cards, so the first look reads only the ``RECENT`` newest
    cards (``ix_cards_updated_at``, migration 0015): when ``limit`` of them match, nothing
    older can come before them, and no card further back is read. Otherwise (a rare word, or
    few cards in sight) every card is matched.
    """
    scope = scope_of(session, viewer)
    # The newest cards with what the words, the access rule and the order need: tested as
    # they come, never joined back (PostgreSQL hashed the whole table for such a join).
    recent = (
        select(Card.id, Card.updated_at, Card.product_id, Card.owner_id, Card.search_text)
        .where(Card.trashed_at.is_(None))
        .order_by(Card.updated_at.desc(), Card.id.desc())
        .limit(RECENT)
        .subquery("recent")
    )
    first = select(recent.c.id).where(*(_holds(recent.c, word) for word in words))
    ids = _newest(session, first, recent.c, scope.cards_condition(recent.c), limit)
    if len(ids) < limit:
        # Every card: the ids holding each word come from cards.search_text and the notes'
        # (trigram indexes answer both, migration 0015), then the matches only are read, in a
        # materialized CTE: left to the planner, SQLite walked the (product_id, updated_at)
        # index for the access rule instead, 5x the time.
        fts = has_trigram_tables(session)
        found = (
            select(Card.id, Card.updated_at, Card.product_id, Card.owner_id)
            .where(Card.trashed_at.is_(None), *(Card.id.in_(_holding(word, fts)) for word in words))
            .cte("found")
            .prefix_with("MATERIALIZED")
        )
        everything = select(found.c.id).select_from(found)
        ids = _newest(session, everything, found.c, scope.cards_condition(found.c), limit)
    return _hits(session, ids)


def _newest(
    session: Session,
    query: Select[Any],
    card: Any,
    visible: ColumnElement[bool] | None,
    limit: int,
) -> list[int]:
    """The ids of ``query`` (rows of ``card``, the entity or a CTE's columns), newest first."""
    if visible is not None:
        query = query.where(visible)
    query = query.order_by(card.updated_at.desc(), card.id.desc()).limit(limit)
    return list(session.scalars(query))


def _hits(session: Session, ids: list[int]) -> list[Hit]:
    if not ids:
        return []
    rows = session.execute(
        select(Card.id, Card.title, Product.id, Product.name, Status.name)
        .join(Product, Product.id == Card.product_id)
        .join(Status, Status.id == Card.status_id)
        .where(Card.id.in_(ids))
    )
    by_id = {row[0]: row for row in rows}
    return [
        Hit(
            kind="card",
            id=card_id,
            title=title,
            detail=status,
            product={"id": product_id, "name": product_name},
            url=f"/cards/{card_id}",
        )
        for card_id, title, product_id, product_name, status in (by_id[i] for i in ids)
    ]


def _holds(card: Any, word: str) -> ColumnElement[bool]:
    """``card`` (a row's columns) holds ``word`` (folded) in its title or fields, or notes."""
    pattern = _pattern(word)
    in_notes = select(Note.card_id).where(Note.search_text.like(pattern, escape="\\"))
    return or_(card.search_text.like(pattern, escape="\\"), card.id.in_(in_notes))


def _holding(word: str, fts: bool) -> Any:
    """The ids of the cards holding ``word``: the same test as ``_holds``, as a set.

    ``fts``: SQLite's trigram tables (migration 0015) answer it without reading every row; a
    phrase of three characters or more matches exactly where ``LIKE '%word%'`` does.
    """
    if fts and len(word) >= 3:
        phrase = trigram_phrase(word)
        cards, notes = table("cards_fts", column("rowid")), table("notes_fts", column("rowid"))
        return union(
            select(cards.c.rowid).where(literal_column("cards_fts").op("MATCH")(phrase)),
            select(Note.card_id).where(
                Note.id.in_(
                    select(notes.c.rowid).where(literal_column("notes_fts").op("MATCH")(phrase))
                )
            ),
        )
    pattern = _pattern(word)
    return union(
        select(Card.id).where(Card.search_text.like(pattern, escape="\\")),
        select(Note.card_id).where(Note.search_text.like(pattern, escape="\\")),
    )


def _pattern(word: str) -> str:
    return f"%{_escape(word)}%"


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
