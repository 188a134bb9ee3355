"""Alembic environment of the calendar sync service: its own database and version table."""

from cardcrm.calendar_sync.db import Base
from cardcrm.calendar_sync.migrate import VERSION_TABLE
from cardcrm.calendar_sync.models import EventCursor  # noqa: F401  (registers every table)
from cardcrm.common.migrate import run_environment

run_environment(Base.metadata, VERSION_TABLE)
