"""Alembic environment of the notifications service: its own database and version table."""

from cardcrm.common.migrate import run_environment
from cardcrm.notifications.models import Base

run_environment(Base.metadata, "alembic_version_notifications")
