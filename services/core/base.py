"""The core service's declarative base: every core table is declared on it."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import TYPE_MAP, new_metadata
from cardcrm.common.idempotency import idempotency_model
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_MAP


#: Keys of retried POSTs (``Idempotency-Key``), kept in core's database.
IdempotencyKey: Any = idempotency_model(Base)
