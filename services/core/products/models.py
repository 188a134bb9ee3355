"""Products, their statuses and their members (who may see a product's cards)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.timeutil import utcnow
from cardcrm.core.base import Base
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

#: The four status groups, in the order they always appear.
GROUPS = ("inactive", "in_progress", "positive", "negative")
CLOSED_GROUPS = ("positive", "negative")


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str | None] = mapped_column(String(100))
    #: Custom card field definitions: ``[{"key", "label", "type", "required"?, "choices"?}]``.
    fields: Mapped[list[Any]] = mapped_column(default=list)
    #: Task types the template added (the built-in and plugin types are added when read).
    task_types: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    statuses: Mapped[list[Status]] = relationship(
        back_populates="product",
        order_by="(Status.group_order, Status.position)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __mapper_args__ = {"version_id_col": version}

    def field(self, key: str) -> dict[str, Any] | None:
        return next((field for field in self.fields if field["key"] == key), None)


class Status(Base):
    __tablename__ = "statuses"
    __table_args__ = (UniqueConstraint("product_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    group: Mapped[str] = mapped_column(String(20))
    #: Index of ``group`` in ``GROUPS``, kept so the database can order statuses.
    group_order: Mapped[int] = mapped_column()
    #: Position inside the group, 0-based.
    position: Mapped[int] = mapped_column()

    product: Mapped[Product] = relationship(back_populates="statuses")

    @property
    def closed(self) -> bool:
        return self.group in CLOSED_GROUPS


class Membership(Base):
    """A user who may see a product's cards; ``own_cards_only``: only theirs and nobody's."""

    __tablename__ = "product_members"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    own_cards_only: Mapped[bool] = mapped_column(default=False)
