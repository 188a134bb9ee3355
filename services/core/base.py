"""The core service's declarative base: every core table is declared on it."""

from __future__ import annotations

from cardcrm.common.db import TYPE_MAP, new_metadata
from cardcrm.common.idempotency import IdempotencyKeyColumns
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_MAP


class IdempotencyKey(IdempotencyKeyColumns, Base):
    """Keys of retried POSTs (``Idempotency-Key``), kept in core's database."""
