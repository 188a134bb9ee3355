"""Cards and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from cardcrm.core.base import Base
from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import get_history

from ..contacts.models import CardContact
from ..mail.address import new_secret
from ..products.models import CLOSED_GROUPS, Product, Status
from .amount import amount_cents, product_money_key
from .search_text import card_search_text

#: A status's cards by deadline (boards, ?status_id=), carrying what the money sums read: the
#: board's count and sum per status come from this index alone (``amount.py``, migration 0013).
STATUS_INDEX = (
    "ix_cards_status_next_task_due",
    "status_id",
    "next_task_due",
    "updated_at",
    "id",
    "trashed_at",
    "owner_id",
    "amount_cents",
)


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        # The card list's order: next open deadline, then (for cards with none) last update.
        Index("ix_cards_product_next_task_due", "product_id", "next_task_due", "id"),
        Index("ix_cards_product_updated_at", "product_id", "updated_at", "id"),
        # The same order for one owner's cards (``?owner_id=``; migration 0018).
        Index(
            "ix_cards_product_owner_next_task_due", "product_id", "owner_id", "next_task_due", "id"
        ),
        # Global search across products reads the newest cards first (migration 0015).
        Index("ix_cards_updated_at", "updated_at", "id"),
        # The cards of an owner, or of none, by id alone: a limited member's tasks in sight
        # (``access.tasks_in_sight_parts``; migration 0019).
        Index("ix_cards_owner_id_id", "owner_id", "id"),
        # The same order within one status (boards, ?status_id=); and the board's sums.
        Index(*STATUS_INDEX),
        # Its cards without a deadline, in their part's order (migration 0020): PostgreSQL
        # does not read that order from the index above.
        Index(
            "ix_cards_status_undated",
            "status_id",
            "updated_at",
            "id",
            postgresql_where=text("next_task_due IS NULL"),
            sqlite_where=text("next_task_due IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    status_id: Mapped[int] = mapped_column(ForeignKey("statuses.id"))
    title: Mapped[str] = mapped_column(String(500))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The primary contact (a person or company); other contacts are ``contact_links``.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The title and field values folded, for search (``search_text``): set on every write.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: The value of the product's first money field in whole cents (None: no number there),
    #: kept by every write for the sums of the board and the reports (``amount.py``).
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: The secret part of the card's e-mail address (``mail/address.py``); rotatable. Every
    #: card has one (migration 0009 gave them to existing cards); nullable only in the schema.
    email_secret: Mapped[str | None] = mapped_column(String(32), default=new_secret)
    #: Deadline of the card's earliest open task, kept in the transaction of every task change.
    next_task_due: Mapped[datetime | None]
    trashed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    product: Mapped[Product] = relationship()
    status: Mapped[Status] = relationship()
    #: The card's other contacts (a card list loads them for the whole page at once).
    contact_links: Mapped[list[CardContact]] = relationship(
        order_by="CardContact.contact_id", viewonly=True
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_group(self) -> str:
        return self.status.group

    @property
    def closed(self) -> bool:
        return self.status.group in CLOSED_GROUPS

    @property
    def trashed(self) -> bool:
        return self.trashed_at is not None

    @property
    def contact_ids(self) -> list[int]:
        return [link.contact_id for link in self.contact_links]


@event.listens_for(Card, "before_insert")
def _keep_search_text_and_amount(mapper: Any, connection: Any, card: Card) -> None:
    card.search_text = card_search_text(card.title, card.fields)
    card.amount_cents = amount_cents(card.fields, product_money_key(connection, card.product_id))


@event.listens_for(Card, "before_update")
def _keep_them_on_update(mapper: Any, connection: Any, card: Card) -> None:
    """As on insert; but a write that leaves the field values as they were (a new title, a
    move) keeps the amount it had, without reading the money field under the product's lock:
    the amount depends on the values alone, and a change of the money field recomputes the
    cards' amounts from their values under that lock (``recompute_amounts``)."""
    if get_history(card, "fields").has_changes():
        _keep_search_text_and_amount(mapper, connection, card)
    else:
        card.search_text = card_search_text(card.title, card.fields)


#: History words renamed to agree with the event feed (docs/events.md; migration 0004 rewrote
#: the stored rows): a ``?type=`` filter naming the old word still finds the rows.
RENAMED_HISTORY_TYPES = {"card.trashed": "card.deleted"}


class CardHistory(Base):
    """One row per change of a card or of one of its tasks: who, when, what before and after."""

    __tablename__ = "card_history"
    __table_args__ = (
        Index("ix_card_history_card_id_id", "card_id", "id"),
        # The card's timeline reads it newest first by time.
        Index("ix_card_history_card_id_at_id", "card_id", "at", "id"),
        Index("ix_card_history_positive_id", "positive", "id"),
        # The reports: a period's status changes.
        Index("ix_card_history_type_at", "type", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(index=True)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: A positive result for the Wall of Progress: the card reached a ``positive`` status, or
    #: a task was closed as done.
    positive: Mapped[bool] = mapped_column(default=False)
