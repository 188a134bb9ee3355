"""Two transactions bring the same new task into the mirror at once: the calendar's follower of
core's feed (the task's ``task.created``) and the CalDAV write that made the task (core's answer,
kept at once so that the next GET shows it). On PostgreSQL the second waits for the first's row
and then must take it as if it had read it, not fail (the write was answered 409 and vdirsyncer
stopped the sync). SQLite has one writer at a time: nothing to race."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from cardcrm.calendar_sync import mirror
from cardcrm.calendar_sync.models import MirrorCard, MirrorTask
from cardcrm.common.db import Database
from sqlalchemy import text


def core_task(version: int, text_: str = "Buy stamps") -> dict[str, Any]:
    """A task as core's API shows it."""
    return {
        "id": 15,
        "card_id": 3,
        "product_id": 1,
        "assignee_id": 8,
        "text": text_,
        "status": "open",
        "due": "2026-12-07T09:00:00Z",
        "due_date": None,
        "all_day": False,
        "version": version,
        "closed_at": None,
        "updated_at": f"2026-12-06T14:0{version}:00Z",
    }


@pytest.fixture
def database(calendar_database_url: str) -> Any:
    if not calendar_database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: the two transactions cannot race")
    database = Database(calendar_database_url)
    for factory in (database.sessions, database.writer.maker):
        mirror.install(factory)
    with database.sessions.begin() as session:
        session.add(MirrorCard(id=3, product_id=1, title="Calendar inbox", owner_id=8))
    yield database
    database.dispose()


def waiting_for_a_lock(database: Database) -> bool:
    with database.engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


@pytest.mark.parametrize(("second", "taken"), [(1, False), (2, True)])
def test_the_second_to_bring_a_new_task_takes_the_firsts_row(database, second, taken):
    first = database.sessions()
    first.begin()
    assert mirror.apply_task(first, core_task(1))
    first.flush()  # the row is in, not committed: the second must wait for it
    found: list[Any] = []

    def bring() -> None:
        try:
            with database.sessions.begin() as session:
                found.append(mirror.apply_task(session, core_task(second, "Buy stamps (2)")))
        except Exception as error:  # noqa: BLE001 - the failure the test looks for
            found.append(error)

    racer = threading.Thread(target=bring)
    racer.start()
    deadline = time.monotonic() + 10
    while not waiting_for_a_lock(database):
        assert time.monotonic() < deadline, "the second transaction never waited"
        time.sleep(0.02)
    first.commit()
    first.close()
    racer.join(10)

    assert found == [taken]
    with database.sessions() as session:
        task = session.get(MirrorTask, 15)
        assert task is not None
        assert (task.version, task.sequence) == ((2, 1) if taken else (1, 0))
        assert task.data["text"] == ("Buy stamps (2)" if taken else "Buy stamps")
