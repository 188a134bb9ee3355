"""Recording and reading quick-access data: recent cards, favourite filters, the wall."""

from __future__ import annotations

from functools import cache
from typing import Any

from cardcrm.common.db import reads_outside_transactions, write_transaction
from cardcrm.common.errors import Invalid, NotFound
from cardcrm.common.timeutil import utcnow
from cardcrm.common.translate import gettext as _
from marshmallow import ValidationError
from sqlalchemy import Connection, and_, bindparam, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..access import scope_of
from ..auth.models import User
from ..cards.models import Card, CardHistory
from ..cards.queries import FIELD_PREFIX, filter_conditions
from ..cards.schemas import CardListArgsSchema
from ..products.service import get_product
from .models import Favorite, RecentCard

RECENT_LIMIT = 20
FILTER_KEYS = ("status_id", "group", "owner_id", "q", "closed", "trashed")


# --- recently opened cards --------------------------------------------------------------------


def note_card_opened(session: Session, user: User, card: Card) -> None:
    """Remember that ``user`` opened ``card``; only the newest ``RECENT_LIMIT`` are kept.

    Reading a card stays a read for the request's session (nothing it loaded is expired), and
    the upsert needs no read first. On PostgreSQL, a request's session reading outside
    transactions (``Database.request_session``) sends it as one statement that commits by
    itself: the upsert, and the trim of all but the opened card and the newest others. It was
    four round trips (``BEGIN``, upsert, trim, ``COMMIT``) on a second connection; a card's
    read now costs about a sixth less CPU. Otherwise (SQLite, or a session in a transaction)
    it runs in a short transaction of its own connection. Two opens at once may leave one
    card more than the limit until the next open trims it. The statements are built once per
    dialect (``_opened_statements``): building them was a third of a card's read.

    Decision: on PostgreSQL that one statement commits without waiting for the disk
    (``synchronous_commit`` off for its transaction alone, set by the statement itself). The
    row is a convenience derived from reading, not something the user entered: a crash may
    forget the last fraction of a second of cards opened, never a card, task or value. A
    card's read no longer waits for a flush of the write-ahead log: 0.15 ms less per read
    on the benchmark machine's disk (p50 1.18-1.20 against 1.02-1.06 ms, in process), more
    on a disk whose flushes are slower. Every other write keeps waiting for its flush.
    """
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    dialect = engine.dialect.name
    upsert, trim, both = _opened_statements(dialect)
    values = {"user_id": user.id, "card_id": card.id, "opened_at": utcnow()}
    if dialect == "postgresql" and reads_outside_transactions(session):
        session.connection().execute(both, values)
        return
    with engine.connect().execution_options(write=True) as connection, connection.begin():
        connection.execute(upsert, values)
        connection.execute(trim, values)


@cache
def _opened_statements(dialect: str) -> tuple[Any, Any, Any]:
    """The upsert of a card opened, the trim of the user's others past the newest, and both
    in one statement (PostgreSQL), with the parameters ``user_id``, ``card_id``, ``opened_at``."""
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    user_id: Any = bindparam("user_id")
    card_id: Any = bindparam("card_id")
    opened = insert(RecentCard).values(
        user_id=user_id,
        card_id=card_id,
        opened_at=bindparam("opened_at", type_=RecentCard.opened_at.type),
    )
    upsert = opened.on_conflict_do_update(
        index_elements=["user_id", "card_id"], set_={"opened_at": opened.excluded.opened_at}
    )
    others = and_(RecentCard.user_id == user_id, RecentCard.card_id != card_id)
    newest = (
        select(RecentCard.card_id)
        .where(others)
        .order_by(RecentCard.opened_at.desc())
        .limit(RECENT_LIMIT - 1)
    )
    trim = delete(RecentCard).where(others, RecentCard.card_id.not_in(newest))
    return upsert, trim, trim.add_cte(_upsert_without_waiting_for_the_disk().cte("opened"))


def _upsert_without_waiting_for_the_disk() -> Any:
    """PostgreSQL's upsert of the card opened as an ``INSERT ... SELECT`` whose source also
    turns ``synchronous_commit`` off for the transaction (``set_config(..., true)``): as a
    data-modifying ``WITH``, it runs once in full whatever the rest of the statement reads,
    so the setting is always made before the statement's own commit."""
    columns = ["user_id", "card_id", "opened_at"]
    no_wait = select(func.set_config("synchronous_commit", "off", True).label("set")).subquery()
    values = select(
        bindparam("user_id", type_=RecentCard.user_id.type),
        bindparam("card_id", type_=RecentCard.card_id.type),
        bindparam("opened_at", type_=RecentCard.opened_at.type),
    ).select_from(no_wait)
    opened = postgresql_insert(RecentCard).from_select(columns, values)
    return opened.on_conflict_do_update(
        index_elements=["user_id", "card_id"], set_={"opened_at": opened.excluded.opened_at}
    )


def recent_cards(session: Session, user: User) -> list[Card]:
    """The cards ``user`` opened last, newest first (left out: trashed, no longer visible)."""
    query = (
        select(Card)
        .join(RecentCard, RecentCard.card_id == Card.id)
        .where(RecentCard.user_id == user.id, Card.trashed_at.is_(None))
    )
    visible = scope_of(session, user).cards_condition()
    if visible is not None:
        query = query.where(visible)
    return list(
        session.scalars(
            query.order_by(RecentCard.opened_at.desc(), Card.id.desc()).limit(RECENT_LIMIT)
        )
    )


# --- favourite filters ------------------------------------------------------------------------


def clean_query(
    session: Session, product_id: int, query: dict[str, Any], viewer: User | None = None
) -> dict[str, Any]:
    """Check a saved filter exactly as the card list would, and keep it in query-string form."""
    if not isinstance(query, dict):
        raise Invalid({"query": [_("Must be an object of card list filters.")]})
    product = get_product(session, product_id, viewer=viewer)
    fields = {key: value for key, value in query.items() if key.startswith(FIELD_PREFIX)}
    plain = {key: value for key, value in query.items() if not key.startswith(FIELD_PREFIX)}
    unknown = sorted(set(plain) - set(FILTER_KEYS))
    if unknown:
        raise Invalid({f"query.{key}": [_("Not a card list filter.")] for key in unknown})
    as_text = {key: _text(value) for key, value in {**plain, **fields}.items()}
    try:
        args = CardListArgsSchema().load({k: v for k, v in as_text.items() if k in plain})
    except ValidationError as error:
        messages = error.normalized_messages()
        raise Invalid({f"query.{key}": value for key, value in messages.items()}) from error
    try:
        filter_conditions(
            product,
            args,
            {key[len(FIELD_PREFIX) :]: value for key, value in as_text.items() if key in fields},
        )
    except Invalid as error:
        errors = error.extra.get("errors", {})
        raise Invalid({f"query.{key}": value for key, value in errors.items()}) from error
    return as_text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise Invalid({"query": [_("Filter values are strings, numbers or booleans.")]})


def create_favorite(session: Session, user: User, data: dict[str, Any]) -> Favorite:
    with write_transaction(session):
        query = clean_query(session, data["product_id"], data.get("query") or {}, viewer=user)
        favorite = Favorite(
            user_id=user.id, product_id=data["product_id"], name=data["name"], query=query
        )
        session.add(favorite)
    return favorite


def list_favorites(session: Session, user: User, product_id: int | None) -> list[Favorite]:
    """The user's favourites (of products the user may still see)."""
    query = select(Favorite).where(Favorite.user_id == user.id)
    scope = scope_of(session, user)
    if not scope.everything:
        query = query.where(Favorite.product_id.in_(scope.product_ids))
    if product_id is not None:
        query = query.where(Favorite.product_id == product_id)
    return list(session.scalars(query.order_by(Favorite.product_id, Favorite.name, Favorite.id)))


def delete_favorite(session: Session, user: User, favorite_id: int) -> None:
    with write_transaction(session):
        favorite = session.get(Favorite, favorite_id)
        if favorite is None or favorite.user_id != user.id:
            raise NotFound(_("No favourite %(id)s.", id=favorite_id))
        session.delete(favorite)


# --- Wall of Progress -------------------------------------------------------------------------


def wall(
    session: Session, before: int | None, limit: int, viewer: User | None = None
) -> list[tuple[CardHistory, Card]]:
    """The team's positive results, newest first: cards won and tasks closed as done.

    With ``viewer``, only results on cards that user may see. The card is checked per row
    with EXISTS, so the newest rows come straight from the history's index; then the page's
    cards are loaded in one query.
    """
    visible = scope_of(session, viewer).cards_condition() if viewer is not None else None
    card_is_shown = [Card.id == CardHistory.card_id, Card.trashed_at.is_(None)]
    if visible is not None:
        card_is_shown.append(visible)
    query = select(CardHistory).where(
        CardHistory.positive.is_(True), exists().where(*card_is_shown)
    )
    if before is not None:
        query = query.where(CardHistory.id < before)
    rows = list(session.scalars(query.order_by(CardHistory.id.desc()).limit(limit)))
    cards = {
        card.id: card
        for card in session.scalars(select(Card).where(Card.id.in_({row.card_id for row in rows})))
    }
    return [(row, cards[row.card_id]) for row in rows]
