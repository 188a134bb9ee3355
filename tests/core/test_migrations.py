"""The migrations build exactly the schema the models describe, on every database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cardcrm.core.models import Base
from sqlalchemy import create_engine


def test_migrated_database_matches_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": "alembic_version_core"}
        )
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    differences = [item for item in differences if not _is_version_table(item)]
    assert differences == []


def _is_version_table(difference) -> bool:
    return difference[0] == "remove_table" and difference[1].name.startswith("alembic_version")
