"""Alembic environment of the core service: one database, its own version table."""

from cardcrm.core.migrate import run_environment
from cardcrm.core.models import Base

run_environment(Base.metadata, "alembic_version_core")
