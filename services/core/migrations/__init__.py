"""Alembic migrations of the core database (run by ``cardcrm db upgrade``)."""
