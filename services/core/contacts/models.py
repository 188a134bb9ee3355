"""Contacts, their history, and the e-mails and phones that identify them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from cardcrm.core.base import Base
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

KINDS = ("person", "company")


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_kind_name", "kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="person")
    name: Mapped[str] = mapped_column(String(300), index=True)
    emails: Mapped[list[Any]] = mapped_column(default=list)
    phones: Mapped[list[Any]] = mapped_column(default=list)
    #: A person's company (another contact, of kind ``company``).
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    registration_number: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(500))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Name, e-mails and phones folded (lower case, no accents; phones as digits) for search.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ContactIdentifier(Base):
    """A normalised e-mail or phone of a contact, for duplicate detection."""

    __tablename__ = "contact_identifiers"
    __table_args__ = (Index("ix_contact_identifiers_kind_value", "kind", "value"),)

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(320), primary_key=True)


class ContactHistory(Base):
    __tablename__ = "contact_history"
    __table_args__ = (Index("ix_contact_history_contact_id_id", "contact_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CardContact(Base):
    """A card's other contacts (its primary contact is ``cards.contact_id``)."""

    __tablename__ = "card_contacts"

    card_id: Mapped[int] = mapped_column(
        ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
