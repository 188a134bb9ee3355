"""The stored bytes of card files: locked while a row comes or goes, and removed once no row
names them (only after the transaction that removed the last row has committed).

The same content may be named by several rows (two cards, or the same file uploaded twice),
so removing a row never removes bytes by itself. ``release_contents`` runs after a commit, in
a transaction of its own per batch: it takes the content's lock (PostgreSQL: an advisory lock
on the SHA-256; SQLite: the database's write lock, which every write transaction holds), asks
whether a row still names it, and deletes the bytes only if none does. ``add_file`` takes the
same lock before it stores bytes and keeps it until its row commits, so a content being
uploaded again is never deleted under it.

A crash between storing bytes and committing their row, or between a commit and the
release, leaves bytes no row names: ``sweep_orphans`` (``cardcrm files sweep``, and once at
``cardcrm up``) removes such contents older than an hour.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from cardcrm.common.db import write_transaction
from cardcrm.common.timeutil import utcnow
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from .models import CardFile
from .storage import FileStorage

log = logging.getLogger(__name__)

#: Contents checked per transaction when releasing them.
BATCH = 500
#: How old a content no row names must be before the sweep removes it.
ORPHAN_AGE = timedelta(hours=1)


def lock_content(session: Session, sha256: str) -> None:
    """Hold the content's lock until the session's transaction ends.

    On PostgreSQL an advisory lock keyed by the SHA-256's first 64 bits; on SQLite nothing is
    needed: a write transaction (``write_transaction``) holds the database's write lock."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(key)))


def remove_files_of_cards(session: Session, card_ids: Select | list[int]) -> list[str]:
    """Delete the file rows of these cards (in the caller's transaction); return the contents
    they named, for ``release_contents`` once the transaction has committed."""
    contents = list(
        session.scalars(select(CardFile.sha256).where(CardFile.card_id.in_(card_ids)).distinct())
    )
    session.execute(delete(CardFile).where(CardFile.card_id.in_(card_ids)))
    return contents


def release_contents(session: Session, storage: FileStorage, contents: Iterable[str]) -> int:
    """Delete the bytes of each content no row names any more; return how many were deleted.

    Call it after the transaction that removed the rows has committed. A failure is logged and
    leaves the bytes for the orphan sweep: the rows are gone already."""
    pending = sorted(set(contents))
    removed = 0
    for start in range(0, len(pending), BATCH):
        batch = pending[start : start + BATCH]
        try:
            with write_transaction(session):
                for sha256 in batch:
                    lock_content(session, sha256)
                named = set(
                    session.scalars(
                        select(CardFile.sha256).where(CardFile.sha256.in_(batch)).distinct()
                    )
                )
                for sha256 in batch:
                    if sha256 not in named:
                        storage.delete(sha256)
                        removed += 1
        except Exception:
            log.exception("could not remove %d stored file(s); the orphan sweep will", len(batch))
    return removed


@dataclass(frozen=True)
class SweepResult:
    removed: int
    temporary: int
    listed: bool = True


def sweep_orphans(
    session: Session, storage: FileStorage, older_than: timedelta = ORPHAN_AGE
) -> SweepResult:
    """Remove stored contents no row names, written before ``older_than`` ago, and what
    unfinished writes left (temporary files) before then."""
    cutoff = utcnow() - older_than
    temporary = storage.remove_temporary(cutoff)
    try:
        old = [sha256 for sha256, written in storage.contents() if written < cutoff]
    except NotImplementedError:
        log.warning("the file storage cannot list its contents: no orphan sweep")
        return SweepResult(0, temporary, listed=False)
    return SweepResult(release_contents(session, storage, old), temporary)
