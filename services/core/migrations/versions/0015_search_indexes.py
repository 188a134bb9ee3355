"""global search indexes: cards by (updated_at, id); trigram indexes of search_text

Search answers the newest matching cards. With the (updated_at, id) index it reads the most
recently changed cards in order and stops once it has enough matches, instead of matching,
then sorting, every card that holds a common word (``core/search/service.py``).

On PostgreSQL, where the ``pg_trgm`` extension is there (trusted since PostgreSQL 13: the
database's owner may create it), GIN trigram indexes on the cards' and notes' ``search_text``
answer ``LIKE '%word%'`` without reading every row. Where it can't be created the search
still works, by scanning. These indexes aren't in the models (they exist only where the
extension does): ``TRIGRAM_INDEXES`` names them for the schema comparison.

On SQLite (3.34 and later, with FTS5) the same is done by FTS5 tables with the trigram
tokenizer, ``cards_fts`` and ``notes_fts``, external-content tables over ``search_text`` kept
by triggers, so every write keeps them in its own transaction. A later migration that copies
``cards`` or ``notes`` (``batch_alter_table``) drops those triggers and must make them again
(``create_fts``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLES = ("cards", "notes")
TRIGRAM_INDEXES = {"ix_cards_search_text_trgm": "cards", "ix_notes_search_text_trgm": "notes"}


def upgrade() -> None:
    op.create_index("ix_cards_updated_at", "cards", ["updated_at", "id"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if _fts5_trigrams(bind):
            for table in FTS_TABLES:
                create_fts(table)
        return
    if bind.dialect.name != "postgresql" or not _trigrams(bind):
        return
    for name, table in TRIGRAM_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in FTS_TABLES:
            for trigger in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{trigger}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_cards_updated_at", table_name="cards")


def _trigrams(bind: sa.Connection) -> bool:
    """pg_trgm is (now) installed; a savepoint keeps a refusal from ending the migration."""
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).scalar()
    if not available:
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return False
    return True


def create_fts(table: str) -> None:
    """``{table}_fts``: the trigrams of ``{table}.search_text``, filled and kept by triggers."""
    fts = f"{table}_fts"
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='{table}', "
        "content_rowid='id', tokenize='trigram')"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
    add = f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text);"
    remove = (
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text);"
    )
    op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN {add} END")
    op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN {remove} END")
    op.execute(
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF search_text ON {table} BEGIN {remove} {add} END"
    )


def _fts5_trigrams(bind: sa.Connection) -> bool:
    """SQLite has FTS5 and its trigram tokenizer (3.34)."""
    version = bind.execute(sa.text("SELECT sqlite_version()")).scalar() or "0"
    parts = tuple(int(part) for part in version.split(".")[:2])
    fts5 = bind.execute(sa.text("SELECT sqlite_compileoption_used('ENABLE_FTS5')")).scalar()
    return bool(fts5) and parts >= (3, 34)
