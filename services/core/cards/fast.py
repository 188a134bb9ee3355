"""The card list's read path without ORM objects: rows to dicts, statements built once.

``GET /products/{id}/cards`` answers exactly what ``CardSchema().dump`` of the ORM cards
answered (``tests/core/test_card_list_fast.py`` compares the JSON byte for byte), in fewer
round trips and with less Python per card:

- the unfiltered list in the contract's order (the common case) reads the page in one
  statement that also decides what the caller sees (``_in_sight``): the caller's membership of
  the product is read by the statement itself, so the request costs the token check and the
  page, not a statement for the product first. Each row carries its status's group. Only a
  page with no card tells nothing about the product (missing, out of the caller's sight, or
  empty): then ``load_product`` says which (404, or an empty list);
- a filtered list or another sort needs the product's statuses and fields to check its
  arguments: ``load_product`` reads the product, its statuses (in their order) and the
  caller's membership of it in one statement, then the page is read;
- each card's other contacts come folded in as a list of ids (a correlated subquery, run
  only for the rows of the page), instead of the cards and then their contacts;
- the statements of the unfiltered list are built once per dialect with bind parameters, so
  a request neither rebuilds the SQL expression nor its cache key;
- each row becomes the schema's dict in one function (``card_dict``) whose keys are checked
  against ``CardSchema``'s fields when this module is imported: the schema stays the one
  declaration of the answer (and of the OpenAPI document), and a field added to it without
  the same field here stops the app from starting rather than answer something else.

A membership limited to "own cards" is the same condition ``access.Scope`` writes, reduced to
the one product the list reads (the other products' conditions cannot match its cards).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cardcrm.common import rawsql
from cardcrm.common.db import json_loads
from cardcrm.common.errors import Invalid, NotFound
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.translate import gettext as _
from sqlalchemy import (
    DateTime,
    String,
    Text,
    TypeDecorator,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from ..auth.models import User
from ..contacts.models import CardContact
from ..mail.address import mail_domain
from ..products.models import CLOSED_GROUPS, Membership, Product, Status
from .models import Card
from .schemas import CardSchema
from .sorting import DEFAULT_SORT

_CARDS = Card.__table__
_LINKS = CardContact.__table__
_PRODUCTS = Product.__table__
_STATUSES = Status.__table__
_MEMBERS = Membership.__table__

#: The keys ``card_dict`` writes, in ``CardSchema``'s order (the JSON keeps the schema's order).
KEYS = (
    "id",
    "product_id",
    "status_id",
    "status_group",
    "title",
    "owner_id",
    "contact_id",
    "contact_ids",
    "email_address",
    "fields",
    "next_task_due",
    "closed",
    "trashed",
    "created_at",
    "updated_at",
    "version",
)


def schema_keys() -> tuple[str, ...]:
    """The keys ``CardSchema`` dumps, in its order."""
    return tuple(field.data_key or name for name, field in CardSchema().dump_fields.items())


if schema_keys() != KEYS:  # pragma: no cover - a schema change must come with this module's
    raise RuntimeError(
        f"CardSchema dumps {schema_keys()}, the card list's fast path writes {KEYS}: "
        "update services/core/cards/fast.py with the schema"
    )


@dataclass(frozen=True)
class StatusView:
    id: int
    group: str


@dataclass(frozen=True)
class ProductView:
    """What the card list needs of a product: its statuses (in order) and field definitions.

    It answers ``id``, ``statuses`` and ``field(key)`` like ``Product``, so the list's filter
    and sort code (``queries.filter_conditions``, ``sorting``) read it unchanged.
    """

    id: int
    fields: list[Any]
    statuses: list[StatusView]
    #: The caller's view of the product: "all" (a member or an admin) or "own" (own cards).
    sight: str

    def field(self, key: str) -> dict[str, Any] | None:
        return next((field for field in self.fields if field["key"] == key), None)


def _product_statement() -> Select[Any]:
    membership = (
        select(_MEMBERS.c.own_cards_only)
        .where(
            _MEMBERS.c.product_id == _PRODUCTS.c.id,
            _MEMBERS.c.user_id == bindparam("user_id"),
        )
        .scalar_subquery()
    )
    return (
        select(
            _PRODUCTS.c.fields,
            _STATUSES.c.id.label("status_id"),
            _STATUSES.c.group,
            membership.label("own_cards_only"),
        )
        .select_from(_PRODUCTS.outerjoin(_STATUSES, _STATUSES.c.product_id == _PRODUCTS.c.id))
        .where(_PRODUCTS.c.id == bindparam("product_id"))
        .order_by(_STATUSES.c.group_order, _STATUSES.c.position)
    )


_PRODUCT = _product_statement()


def load_product(session: Session, product_id: int, viewer: User | None) -> ProductView:
    """The product as ``viewer`` sees it (404 when it is missing or out of their sight)."""
    found = rawsql.execute(
        session.connection(),
        _PRODUCT,
        {"product_id": product_id, "user_id": viewer.id if viewer else 0},
    )
    if not found:
        raise NotFound(_("No product %(id)s.", id=product_id))
    own_cards_only = found[0][3]
    if viewer is None or viewer.is_admin or own_cards_only is False:
        sight = "all"
    elif own_cards_only is None:
        raise NotFound(_("No product %(id)s.", id=product_id))
    else:
        sight = "own"
    statuses = [StatusView(row[1], row[2]) for row in found if row[1] is not None]
    return ProductView(product_id, found[0][0] or [], statuses, sight)


# --- the page ---------------------------------------------------------------------------------


def _contact_ids(dialect: str) -> ColumnElement[Any]:
    """The card's other contacts as text, ``"3,7"`` (None: none), for the page's rows only."""
    if dialect == "postgresql":
        joined: Any = func.string_agg(cast(_LINKS.c.contact_id, String), ",")
    else:
        joined = func.group_concat(_LINKS.c.contact_id)
    return select(joined).where(_LINKS.c.card_id == _CARDS.c.id).scalar_subquery().label("contacts")


def _status_group() -> ColumnElement[Any]:
    """The group of the card's status, for the page's rows only (a primary key lookup each)."""
    group = select(_STATUSES.c.group).where(_STATUSES.c.id == _CARDS.c.status_id)
    return group.scalar_subquery().label("status_group")


class _JsonText(TypeDecorator[Any]):
    """A JSON column read as its text and parsed by ``db.json_loads`` (orjson, to the values
    ``json`` would give)."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else json_loads(value)


#: An instant as ``Instant`` writes it (``timeutil.isoformat_z``: UTC, microseconds only when
#: there are any, then ``Z``), written by PostgreSQL: formatting 150 datetimes in Python was a
#: sixth of a made page's time. ``tests/core/test_card_list_fast.py`` compares the bytes.
_PG_INSTANT = (
    "regexp_replace(to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
    "'\\.000000$', '') || 'Z'"
)


def _instant_column(column: Any, dialect: str) -> Any:
    """A ``UTCDateTime`` column as ``Instant``'s text on PostgreSQL (``_instant`` passes it
    on; ``page_cursor`` reads it back); elsewhere the datetime, as SQLAlchemy reads it."""
    if dialect == "postgresql":
        return literal_column(_PG_INSTANT.format(f"cards.{column.key}"), String).label(column.key)
    return column


def _columns(dialect: str) -> tuple[Any, ...]:
    c = _CARDS.c
    return (
        c.id,
        c.product_id,
        c.status_id,
        c.title,
        c.owner_id,
        c.contact_id,
        c.email_secret,
        cast(c.fields, _JsonText()).label("fields"),
        _instant_column(c.next_task_due, dialect),
        # Only ever compared with None: on PostgreSQL without a Python call per value.
        type_coerce(c.trashed_at, DateTime(timezone=True)).label("trashed_at")
        if dialect == "postgresql"
        else c.trashed_at,
        _instant_column(c.created_at, dialect),
        _instant_column(c.updated_at, dialect),
        c.version,
        _contact_ids(dialect),
        _status_group(),
    )


_COLUMNS: dict[str, tuple[Any, ...]] = {}


def columns(dialect: str) -> tuple[Any, ...]:
    if dialect not in _COLUMNS:
        _COLUMNS[dialect] = _columns(dialect)
    return _COLUMNS[dialect]


def _own(user_id: Any) -> ColumnElement[bool]:
    return or_(_CARDS.c.owner_id == user_id, _CARDS.c.owner_id.is_(None))


def _in_sight() -> ColumnElement[bool]:
    """``access.Scope``'s rule for the cards of one product (``product_id``) and a caller who
    is no admin (``user_id``), with the caller's membership read by the statement itself: a
    member of the whole product sees every card, one limited to own cards their own and
    nobody's, anyone else none. Neither membership test names the card, so each is run once
    per statement (PostgreSQL: an InitPlan; SQLite keeps an uncorrelated subquery's result),
    and the page is still one range scan of the product's index."""
    members = _MEMBERS.c

    def member(limited: bool) -> ColumnElement[bool]:
        return exists().where(
            members.product_id == bindparam("product_id"),
            members.user_id == bindparam("user_id"),
            members.own_cards_only.is_(limited),
        )

    return or_(member(False), and_(_own(bindparam("user_id")), member(True)))


def due_after(due: Any, card_id: Any, table: Any = _CARDS.c) -> ColumnElement[bool]:
    """The cards after the position (``due``, ``card_id``: values, or bound parameters) in
    the ``due`` part's order; ``table`` is ``Card`` or the table's columns.

    A row comparison, not ``due > :due OR (due = :due AND id > :id)``: PostgreSQL and SQLite
    take it as the bound of an index range, so a page deep in the list starts where the last
    one ended; with the ``OR`` they read (and dropped) every card before it, and each next
    page took longer than the one before."""
    return tuple_(table.next_task_due, table.id) > tuple_(
        _typed(due, table.next_task_due), _typed(card_id, table.id)
    )


def updated_before(updated: Any, card_id: Any, table: Any = _CARDS.c) -> ColumnElement[bool]:
    """The cards after the position (``updated``, ``card_id``) in the ``none`` part's order
    (most recently updated first), as ``due_after``."""
    return tuple_(table.updated_at, table.id) < tuple_(
        _typed(updated, table.updated_at), _typed(card_id, table.id)
    )


def _typed(value: Any, column: Any) -> ColumnElement[Any]:
    """``value`` bound with ``column``'s type (its bind processing: SQLite's instants are
    text in the column's own format). Inside a tuple a value does not take the type of the
    column it is compared with, as it does in ``column > value``."""
    if isinstance(value, BindParameter):
        return bindparam(value.key, type_=column.type)
    return literal(value, column.type)


#: The unfiltered list's statements, by (dialect, part, after a position, caller sees every
#: product, trashed).
_STATEMENTS: dict[tuple[str, str, bool, bool, bool], Select[Any]] = {}


def _plain_statement(
    dialect: str, part: str, positioned: bool, everything: bool, trashed: bool
) -> Select[Any]:
    key = (dialect, part, positioned, everything, trashed)
    statement = _STATEMENTS.get(key)
    if statement is None:
        c = _CARDS.c
        conditions: list[ColumnElement[bool]] = [
            c.product_id == bindparam("product_id"),
            c.trashed_at.is_not(None) if trashed else c.trashed_at.is_(None),
        ]
        if not everything:
            conditions.append(_in_sight())
        statement = _part_statement(dialect, conditions, part, positioned)
        _STATEMENTS[key] = statement
    return statement


def _part_statement(
    dialect: str, conditions: list[ColumnElement[bool]], part: str, positioned: bool
) -> Select[Any]:
    c = _CARDS.c
    query = select(*columns(dialect))
    if part == "due":
        query = query.where(*conditions, c.next_task_due.is_not(None))
        if positioned:
            query = query.where(due_after(bindparam("at"), bindparam("after_id"), c))
        return query.order_by(c.next_task_due, c.id).limit(bindparam("limit"))
    query = query.where(*conditions, c.next_task_due.is_(None))
    if positioned:
        query = query.where(updated_before(bindparam("at"), bindparam("after_id"), c))
    return query.order_by(c.updated_at.desc(), c.id.desc()).limit(bindparam("limit"))


#: The list's arguments that filter (any of them: the statement is built for the request).
FILTERS = ("status_id", "group", "closed", "owner_id", "q")


def is_plain(args: dict[str, Any], field_filters: dict[str, str]) -> bool:
    """The list asks for no filter (``trashed`` aside): ``plain_page`` reads it."""
    return not field_filters and not any(key in args for key in FILTERS)


def plain_page(
    session: Session, product_id: int, args: dict[str, Any], viewer: User | None
) -> tuple[list[Row[Any]], str | None]:
    """The unfiltered list's page in the contract's order, as rows of ``columns``: only the
    cards ``viewer`` may see, decided by the statements (``_in_sight``).

    No rows: the product is missing, out of the caller's sight, or has no card to list; the
    caller asks ``load_product`` which (``queries.list_card_dicts``)."""
    connection = session.connection()
    dialect = connection.dialect.name
    everything = viewer is None or viewer.is_admin
    trashed = bool(args.get("trashed"))
    params: dict[str, Any] = {"product_id": product_id}
    if not everything:
        params["user_id"] = viewer.id  # type: ignore[union-attr]

    def statement(part: str, positioned: bool) -> Select[Any]:
        return _plain_statement(dialect, part, positioned, everything, trashed)

    # Its statements are built once (``_STATEMENTS``): read on the driver's cursor.
    return _read_page(connection, args, params, statement, rawsql.execute)


def page(
    session: Session,
    product: ProductView,
    args: dict[str, Any],
    field_filters: dict[str, str],
    viewer: User | None,
    filter_conditions: Callable[..., list[ColumnElement[bool]]],
) -> tuple[list[Row[Any]], str | None]:
    """The page of a filtered list (``queries._page``, the contract's order), as rows of
    ``columns``; ``product`` is as ``load_product`` read it for ``viewer``.

    ``filter_conditions`` is ``queries.filter_conditions``, handed in: the filters have one
    definition there, and ``queries`` imports this module (not the other way round)."""
    connection = session.connection()
    dialect = connection.dialect.name
    conditions = filter_conditions(product, args, field_filters, session)
    params: dict[str, Any] = {}
    if viewer is not None and limited_sight(product, args, viewer):
        conditions.append(_own(bindparam("user_id")))
        params["user_id"] = viewer.id

    def statement(part: str, positioned: bool) -> Select[Any]:
        return _part_statement(dialect, conditions, part, positioned)

    return _read_page(connection, args, params, statement, _execute)


def limited_sight(product: ProductView, args: dict[str, Any], viewer: User) -> bool:
    """The list needs the condition of a member limited to own cards (theirs, or nobody's).

    Not with ``?owner_id=`` the caller: that filter keeps to their own cards already, and with
    both PostgreSQL read all of the owner's cards and the unowned ones, then sorted them (5 ms
    for 1,222 cards; 17.8 ms on average under the load test), where the filter alone reads a
    page of the owner's index in the list's order (0.27 ms,
    ``ix_cards_product_owner_next_task_due``)."""
    return product.sight == "own" and args.get("owner_id") != viewer.id


def _execute(connection: Connection, statement: Select[Any], params: dict[str, Any]) -> list[Any]:
    """A statement built for one request, run by SQLAlchemy (which caches its compiled form
    by its structure; ``rawsql`` keeps only statements built once)."""
    return list(connection.execute(statement, params).all())


def _read_page(
    connection: Connection,
    args: dict[str, Any],
    params: dict[str, Any],
    statement: Callable[[str, bool], Select[Any]],
    execute: Callable[[Connection, Select[Any], dict[str, Any]], list[Any]],
) -> tuple[list[Row[Any]], str | None]:
    """The page at ``args``' cursor: the cards with an open task by deadline, then the others,
    most recently updated first; ``statement(part, positioned)`` is each part's statement,
    run by ``execute``."""
    limit = args["limit"]
    position = decode_cursor(args.get("cursor")) or {"part": "due"}
    if position.get("sort", DEFAULT_SORT) != DEFAULT_SORT:
        raise Invalid({"cursor": [_("The cursor belongs to another sort.")]})
    cards: list[Row[Any]] = []
    if position.get("part") == "due":
        positioned = "due" in position
        if positioned:
            params["at"], params["after_id"] = parse_position(position)
        params["limit"] = limit + 1
        cards = execute(connection, statement("due", positioned), params)
        if len(cards) > limit:
            last = cards[limit - 1]
            return cards[:limit], page_cursor("due", last.next_task_due, last.id)
        position = {"part": "none"}
    if position.get("part") != "none":
        raise Invalid({"cursor": [_("Not a cursor this API gave out.")]})
    positioned = "updated" in position
    if positioned:
        params["at"], params["after_id"] = parse_position(position, key="updated")
    params["limit"] = limit - len(cards) + 1
    rest = execute(connection, statement("none", positioned), params)
    if len(cards) == limit and rest:  # the page ends with the last card that has a task
        return cards, encode_cursor({"part": "none"})
    cards += rest
    if len(cards) > limit:
        last = cards[limit - 1]
        return cards[:limit], page_cursor("none", last.updated_at, last.id, key="updated")
    return cards, None


def page_cursor(part: str, moment: datetime | str, card_id: int, key: str = "due") -> str:
    """The cursor after ``card_id`` in ``part`` of the contract's order (``due``: cards with an
    open task, by deadline; ``none``: the others, most recently updated first). ``moment`` is
    the card's datetime, or its ``Instant`` text as a row of ``columns`` may hold it."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return encode_cursor({"part": part, key: moment.astimezone(UTC).isoformat(), "id": card_id})


def parse_position(position: dict[str, Any], key: str = "due") -> tuple[datetime, int]:
    """The (moment, card id) a ``page_cursor`` holds; 422 for anything else."""
    try:
        moment = datetime.fromisoformat(position[key])
        card_id = int(position["id"])
    except (KeyError, TypeError, ValueError) as error:
        raise Invalid({"cursor": [_("Not a cursor this API gave out.")]}) from error
    if moment.tzinfo is None:
        raise Invalid({"cursor": [_("Not a cursor this API gave out.")]})
    return moment, card_id


# --- rows to the schema's dicts ---------------------------------------------------------------


def _instant(value: datetime | str | None) -> str | None:
    """``Instant``'s output (``timeutil.isoformat_z``), skipping the conversion of UTC; text
    is that output already (``_instant_column``)."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def card_dicts(rows: list[Any]) -> list[dict[str, Any]]:
    """``CardSchema().dump`` of each row of ``columns`` (its status's group last)."""
    domain = mail_domain()
    return [card_dict(row, row[14], domain) for row in rows]


def card_dict(row: Any, group: str, domain: str) -> dict[str, Any]:
    """``CardSchema().dump`` of one row of ``columns`` (or ``orm_rows``) whose status is in
    ``group``."""
    (
        card_id,
        product_id,
        status_id,
        title,
        owner_id,
        contact_id,
        secret,
        fields,
        due,
        trashed_at,
        created_at,
        updated_at,
        version,
        contacts,
    ) = row[:14]
    return {
        "id": card_id,
        "product_id": product_id,
        "status_id": status_id,
        "status_group": group,
        "title": title,
        "owner_id": owner_id,
        "contact_id": contact_id,
        "contact_ids": sorted(map(int, contacts.split(","))) if contacts else [],
        "email_address": f"card-{card_id}-{secret}@{domain}",
        "fields": fields,
        "next_task_due": _instant(due),
        "closed": group in CLOSED_GROUPS,
        "trashed": trashed_at is not None,
        "created_at": _instant(created_at),
        "updated_at": _instant(updated_at),
        "version": version,
    }


# --- one card ---------------------------------------------------------------------------------


_CARD: dict[str, Select[Any]] = {}


def _card_statement(dialect: str) -> Select[Any]:
    """The card (with its status's group) and the caller's membership of its product, at once."""
    statement: Select[Any] | None = _CARD.get(dialect)
    if statement is None:
        membership = (
            select(_MEMBERS.c.own_cards_only)
            .where(
                _MEMBERS.c.product_id == _CARDS.c.product_id,
                _MEMBERS.c.user_id == bindparam("user_id"),
            )
            .scalar_subquery()
        )
        wanted: list[Any] = [*columns(dialect), membership.label("own")]
        statement = select(*wanted).where(_CARDS.c.id == bindparam("card_id"))
        _CARD[dialect] = statement
    return statement


def load_card(session: Session, card_id: int, viewer: User | None) -> dict[str, Any]:
    """``CardSchema().dump`` of the card ``service.get_card`` gives ``viewer`` (else 404)."""
    connection = session.connection()
    row = rawsql.first(
        connection,
        _card_statement(connection.dialect.name),
        {"card_id": card_id, "user_id": viewer.id if viewer else 0},
    )
    if row is None:
        raise NotFound(_("No card %(id)s.", id=card_id))
    # ``access.Scope.sees_card``: a whole product, or own (and nobody's) cards of a limited one.
    own_cards_only = row[15]
    if (
        viewer is not None
        and not viewer.is_admin
        and own_cards_only is not False
        and (own_cards_only is None or row[4] not in (None, viewer.id))
    ):
        raise NotFound(_("No card %(id)s.", id=card_id))
    return card_dict(row, row[14], mail_domain())


def orm_rows(cards: list[Card]) -> list[tuple[Any, ...]]:
    """ORM cards as rows of ``columns`` but the group, with their loaded contacts."""
    return [
        (
            card.id,
            card.product_id,
            card.status_id,
            card.title,
            card.owner_id,
            card.contact_id,
            card.email_secret,
            card.fields,
            card.next_task_due,
            card.trashed_at,
            card.created_at,
            card.updated_at,
            card.version,
            ",".join(str(link.contact_id) for link in card.contact_links),
        )
        for card in cards
    ]
