"""The card list: filters and the next-deadline order, with keyset pagination.

Cards with an open task come first, by their next deadline (ties by id); then the cards with
none, most recently updated first. Each part is one range scan of an index on
``(product_id, next_task_due, id)`` or ``(product_id, updated_at, id)`` — or, filtered by one
status, of ``(status_id, next_task_due, updated_at, id)`` — so the first page costs the same at
100 or 100,000 cards.

``?sort=`` orders the list by another column instead (``sorted_page``): each sort reads the
cards with a value in that column first, then those without one (by id), with keyset cursors
that carry the sort.
"""

from __future__ import annotations

import json
from typing import Any

from cardcrm.common.db import planned_for_values
from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.translate import gettext as _
from sqlalchemy import String, cast, column, literal_column, or_, select, table
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from ..access import scope_of
from ..auth.models import User
from ..contacts.models import CardContact
from ..notes.models import Note
from ..products.models import CLOSED_GROUPS, Product
from ..textsearch import fold, has_trigram_tables, trigram_phrase
from . import fast
from .fast import due_after, page_cursor, parse_position, updated_before
from .fields import filter_value
from .models import Card
from .sorting import DEFAULT_SORT, sorted_page

FIELD_PREFIX = "field."
#: The field filters, as the OpenAPI documents describe them (the query's own keys vary).
FIELD_FILTER_DOC = {
    "field.<key>": "Custom field value to match (text and e-mail ignore case; "
    "a multiple-choice field matches when it holds the value)."
}


def filter_conditions(
    product: Product,
    args: dict[str, Any],
    field_filters: dict[str, str],
    session: Session | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a card list query (also used to validate saved filters).

    With ``session``, a ``q`` that finds few cards is looked up first (``_found_by``), and
    the condition names them: the list is one page of a query that reads the whole result."""
    conditions: list[ColumnElement[bool]] = [
        Card.trashed_at.is_not(None) if args.get("trashed") else Card.trashed_at.is_(None)
    ]
    statuses = product.statuses
    if "status_id" in args:
        if args["status_id"] not in {status.id for status in statuses}:
            raise Invalid({"status_id": [_("Not a status of this product.")]})
        # The status is the product's, so it alone says the product: without the product's
        # condition the planner takes the status's index, which also holds when few cards of
        # a status have a deadline (Won, Lost), instead of filtering the product's whole list.
        conditions.append(Card.status_id == args["status_id"])
    else:
        conditions.insert(0, Card.product_id == product.id)
    if "group" in args:
        conditions.append(Card.status_id.in_([s.id for s in statuses if s.group == args["group"]]))
    if "closed" in args:
        wanted = [s.id for s in statuses if (s.group in CLOSED_GROUPS) == args["closed"]]
        conditions.append(Card.status_id.in_(wanted))
    if "owner_id" in args:
        conditions.append(Card.owner_id == args["owner_id"])
    if args.get("q"):
        found = _found_by(session, product, args["q"]) if session is not None else None
        if found is None:
            conditions.append(_text_condition(product, args["q"]))
        else:
            conditions.append(Card.id.in_(found))
    for key, raw in field_filters.items():
        conditions.append(_field_condition(product, key, raw))
    return conditions


def _text_condition(product: Product, q: str) -> ColumnElement[bool]:
    """``q`` in the card's title (ignoring case) or in one of its notes (ignoring case and
    accents). The notes are searched once for the whole product (``IN``, not a probe per card:
    PostgreSQL hashes the subquery's card ids, SQLite builds them into a temporary index), so a
    query costs one scan of the product's notes beside the card list's own index scan."""
    in_notes = select(Note.card_id).where(
        Note.product_id == product.id, _holds(Note.search_text, fold(q))
    )
    return or_(_title_holds(q), Card.id.in_(in_notes))


def _title_holds(q: str) -> ColumnElement[bool]:
    """The card's title holds ``q``, ignoring case (``%`` and ``_`` are plain text)."""
    return Card.title.ilike(f"%{_escape_like(q)}%", escape="\\")


def _holds(search_text: Any, folded: str) -> ColumnElement[bool]:
    """A folded ``search_text`` column holds ``folded`` (``%`` and ``_`` are plain text)."""
    return search_text.like(f"%{_escape_like(folded)}%", escape="\\")


#: At most this many cards found by ``q`` are looked up and named by id (``_found_by``).
FOUND_LISTED = 1000


def _found_by(session: Session, product: Product, q: str) -> list[int] | None:
    """The ids of the product's cards ``q`` finds (``_text_condition``, trash included), when
    there are at most ``FOUND_LISTED`` of them; ``None`` when there are more, or when ``q`` is
    shorter than three characters.

    Why: the list reads its cards in its order and tests each, which stops after a page when
    ``q`` is common but reads every card of the product when ``q`` is rare or not there at all
    (a word no card holds: 163 ms at 100,000 cards on PostgreSQL, 146 ms on SQLite,
    ``bench.cards``' ``search_rare``). A word of three characters or more is looked up in
    ``cards.search_text`` and ``notes.search_text`` instead, which trigram indexes answer
    (migration 0015: pg_trgm's on PostgreSQL, FTS5 tables on SQLite): a card whose title holds
    ``q``, ignoring case, holds ``fold(q)`` in its folded ``search_text`` too, so that only
    narrows where the title is tested. A common word stops each lookup after
    ``FOUND_LISTED + 1`` rows and the list is read in its order, as before."""
    folded = fold(q)
    if len(folded) < 3:  # a trigram index needs three characters: no lookup helps
        return None
    in_title = _title_holds(q)
    if has_trigram_tables(session):
        # SQLite: the tables' matches, few or more (they hold every product's), then the rows.
        cards_holding = _trigram_matches(session, "cards_fts", folded)
        notes_holding = _trigram_matches(session, "notes_fts", folded)
        if cards_holding is None or notes_holding is None:
            return None
        in_titles = select(Card.id).where(
            Card.id.in_(cards_holding), Card.product_id == product.id, in_title
        )
        in_notes = select(Note.card_id).where(
            Note.id.in_(notes_holding), Note.product_id == product.id
        )
    else:
        in_titles = (
            select(Card.id)
            .where(Card.product_id == product.id, _holds(Card.search_text, folded), in_title)
            .limit(FOUND_LISTED + 1)
        )
        # Not DISTINCT, which would read every matching note first: past the limit in notes,
        # the cards count as more even when fewer are (a card with many notes) and are read
        # in the list's order, which is right either way.
        in_notes = (
            select(Note.card_id)
            .where(Note.product_id == product.id, _holds(Note.search_text, folded))
            .limit(FOUND_LISTED + 1)
        )
    found = set(session.scalars(in_titles))
    if len(found) > FOUND_LISTED:
        return None
    noted = list(session.scalars(in_notes))
    found.update(noted)
    if len(noted) > FOUND_LISTED or len(found) > FOUND_LISTED:
        return None
    return sorted(found)


def _trigram_matches(session: Session, name: str, folded: str) -> list[int] | None:
    """The rowids of SQLite's trigram table ``name`` whose text holds ``folded``: at most
    ``FOUND_LISTED`` (``None``: more). FTS5 finds them as it goes, so a common word stops
    after ``FOUND_LISTED + 1`` (1 ms) where a subquery would read all of them (33 ms)."""
    fts = table(name, column("rowid"))
    matching = literal_column(name).op("MATCH")(trigram_phrase(folded))
    rowids = list(session.scalars(select(fts.c.rowid).where(matching).limit(FOUND_LISTED + 1)))
    return rowids if len(rowids) <= FOUND_LISTED else None


def field_filters_of(query_args: Any) -> dict[str, str]:
    """The ``field.<key>=<value>`` pairs of a query string."""
    return {
        key[len(FIELD_PREFIX) :]: value
        for key, value in query_args.items()
        if key.startswith(FIELD_PREFIX)
    }


def list_cards(
    session: Session,
    product: Product,
    args: dict[str, Any],
    field_filters: dict[str, str],
    viewer: User | None = None,
) -> tuple[list[Card], str | None]:
    """A page of the product's cards; with ``viewer``, only those that user may see."""
    visible = None
    if viewer is not None:
        scope = scope_of(session, viewer)
        # ``?owner_id=`` the viewer, in a product they are a member of: their own cards, all
        # in sight; the rule beside it only slowed the list (``fast.limited_sight``).
        if not (args.get("owner_id") == viewer.id and scope.sees_product(product.id)):
            visible = scope.cards_condition()
    sort = args.get("sort") or DEFAULT_SORT
    with planned_for_values(session):  # which index serves it depends on the filters' values
        if sort != DEFAULT_SORT:
            conditions = filter_conditions(product, args, field_filters, session)
            if visible is not None:
                conditions.append(visible)
            cards, cursor = sorted_page(
                session, product, conditions, sort, args["limit"], args.get("cursor")
            )
        else:
            cards, cursor = _page(session, product, args, field_filters, visible)
    # Hand each card its status from the product's (already loaded) and its other contacts
    # from one query for the page: no query per card.
    statuses = {status.id: status for status in product.statuses}
    links: dict[int, list[CardContact]] = {card.id: [] for card in cards}
    if cards:
        for link in session.scalars(
            select(CardContact)
            .where(CardContact.card_id.in_(links))
            .order_by(CardContact.card_id, CardContact.contact_id)
        ):
            links[link.card_id].append(link)
    for card in cards:
        set_committed_value(card, "status", statuses[card.status_id])
        set_committed_value(card, "contact_links", links[card.id])
    return cards, cursor


def list_card_dicts(
    session: Session,
    product_id: int,
    args: dict[str, Any],
    field_filters: dict[str, str],
    viewer: User | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The API's page of cards: what ``list_cards`` gives, dumped as ``CardSchema`` would.

    The unfiltered list in the contract's order is read with the caller's sight in the same
    statement (``fast.plain_page``); a filtered one reads rows too (``fast.page``) once the
    product (``fast.load_product``) has checked its arguments; another ``sort`` reads rows of
    the same columns through ``sorting.sorted_page``. 404 when the product is missing or out of
    ``viewer``'s sight.
    """
    sort = args.get("sort") or DEFAULT_SORT
    if sort == DEFAULT_SORT and fast.is_plain(args, field_filters):
        try:
            rows, cursor = fast.plain_page(session, product_id, args, viewer)
        except Invalid:
            fast.load_product(session, product_id, viewer)  # out of sight: 404, not 422
            raise
        if not rows:
            fast.load_product(session, product_id, viewer)  # 404, or a product with no card
        return fast.card_dicts(rows), cursor
    product = fast.load_product(session, product_id, viewer)
    # Filtered or sorted, which index serves the list depends on the values asked for.
    with planned_for_values(session):
        if sort == DEFAULT_SORT:
            rows, cursor = fast.page(
                session, product, args, field_filters, viewer, filter_conditions
            )
            return fast.card_dicts(rows), cursor
        conditions = filter_conditions(product, args, field_filters, session)  # type: ignore[arg-type]
        if viewer is not None and fast.limited_sight(product, args, viewer):
            conditions.append(or_(Card.owner_id == viewer.id, Card.owner_id.is_(None)))
        # Rows of the list's columns (contacts and status group included), not ORM cards:
        # ORM objects and their contacts' query took three quarters of a sorted list's time.
        rows, cursor = sorted_page(
            session,
            product,  # type: ignore[arg-type]
            conditions,
            sort,
            args["limit"],
            args.get("cursor"),
            fast.columns(session.get_bind().dialect.name),
        )
    return fast.card_dicts(rows), cursor


def _page(
    session: Session,
    product: Product,
    args: dict[str, Any],
    field_filters: dict[str, str],
    visible: ColumnElement[bool] | None,
) -> tuple[list[Card], str | None]:
    conditions = filter_conditions(product, args, field_filters, session)
    if visible is not None:
        conditions.append(visible)
    limit = args["limit"]
    position = decode_cursor(args.get("cursor")) or {"part": "due"}
    if position.get("sort", DEFAULT_SORT) != DEFAULT_SORT:
        raise Invalid({"cursor": [_("The cursor belongs to another sort.")]})
    cards: list[Card] = []
    if position.get("part") == "due":
        query = select(Card).where(*conditions, Card.next_task_due.is_not(None))
        if "due" in position:
            due, card_id = parse_position(position)
            query = query.where(due_after(due, card_id, Card))
        cards = list(session.scalars(query.order_by(Card.next_task_due, Card.id).limit(limit + 1)))
        if len(cards) > limit:
            last = cards[limit - 1]
            return cards[:limit], page_cursor("due", last.next_task_due, last.id)
        position = {"part": "none"}
    if position.get("part") != "none":
        raise Invalid({"cursor": [_("Not a cursor this API gave out.")]})
    query = select(Card).where(*conditions, Card.next_task_due.is_(None))
    if "updated" in position:
        updated, card_id = parse_position(position, key="updated")
        query = query.where(updated_before(updated, card_id, Card))
    rest = list(
        session.scalars(
            query.order_by(Card.updated_at.desc(), Card.id.desc()).limit(limit - len(cards) + 1)
        )
    )
    if len(cards) == limit and rest:  # the page ends with the last card that has a task
        return cards, encode_cursor({"part": "none"})
    cards += rest
    if len(cards) > limit:
        last = cards[limit - 1]
        return cards[:limit], page_cursor("none", last.updated_at, last.id, key="updated")
    return cards, None


def _field_condition(product: Product, key: str, raw: str) -> ColumnElement[bool]:
    definition = product.field(key)
    if definition is None:
        raise Invalid({f"field.{key}": [_("The product has no field %(key)s.", key=repr(key))]})
    try:
        value = filter_value(definition, raw)
    except (ValueError, ArithmeticError) as error:
        raise Invalid(
            {f"field.{key}": [_("Not a %(type)s value.", type=definition["type"])]}
        ) from error
    element = Card.fields[key]
    kind = definition["type"]
    if kind == "number":
        return element.as_float() == value
    if kind == "checkbox":
        return element.as_boolean() == value
    if kind == "multichoice":
        # The stored list's JSON text contains the value as a JSON string.
        needle = _escape_like(json.dumps(value))
        return cast(element, String).like(f"%{needle}%", escape="\\")
    if kind in ("text", "email"):
        return element.as_string().ilike(_escape_like(value), escape="\\")
    return element.as_string() == value


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
