"""Alembic environment of the core service: one database, its own version table."""

from cardcrm.common.migrate import run_environment
from cardcrm.core.migrate import VERSION_TABLE
from cardcrm.core.models import Base

run_environment(Base.metadata, VERSION_TABLE)
