"""The calendar sync service's declarative base: its tables, in its own database.

Engines, sessions and upserts are the shared ones (``cardcrm.common.db``).
"""

from __future__ import annotations

from cardcrm.common.db import TYPE_MAP, new_metadata
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_MAP
