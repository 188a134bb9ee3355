"""Two-way CalDAV sync against a real Radicale server, with core over real HTTP."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import pytest
from cardcrm.calendar_sync.models import CaldavAccount, EventCursor, PendingPush, RemoteTodo
from sqlalchemy import select

from .conftest import CORE_PUBLIC_URL, Radicale, calendar_app_of


def uid(task: dict) -> str:
    return f"task-{task['id']}@crm.example.com"


@pytest.fixture
def deal(member, sales) -> dict:
    return member.card(sales, "ACME: 40 chairs")


def history(user, card: dict, kind: str) -> list[dict]:
    return user.ok("GET", f"cards/{card['id']}/history?type={kind}")["items"]


# --- connecting an account ----------------------------------------------------------------------


def test_connecting_an_account_checks_it_and_keeps_the_password_encrypted(
    calendar, member, radicale
):
    account = calendar.connect(member, radicale, "ana-connect", calendar="Work")

    assert account["calendar"] == "Work"
    assert account["calendar_url"].startswith(f"{radicale.url}ana-connect/")
    assert account["pending"] == 0 and account["last_sync_at"] is None
    assert "password" not in account
    with calendar.context.database.session() as session:
        stored = session.scalar(select(CaldavAccount))
    assert "app-password" not in stored.password_encrypted
    assert calendar.context.passwords.open(stored.password_encrypted) == "app-password"

    # The calendar exists on the server now, and connecting again finds it (no second one).
    again = calendar.api(member).post(
        "caldav",
        {"url": radicale.url, "username": "ana-connect", "password": "x", "calendar": "Work"},
    )
    assert again.status_code == 409
    assert again.get_json()["existing_id"] == account["id"]
    listed = calendar.api(member).ok("GET", "caldav")["items"]
    assert [item["id"] for item in listed] == [account["id"]]


def test_an_account_that_cannot_work_is_refused_with_a_422_saying_why(calendar, member, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    locked = Radicale(folder, users={"ana": "right-password"}).start()
    try:
        wrong = calendar.api(member).post(
            "caldav", {"url": locked.url, "username": "ana", "password": "wrong"}
        )
        right = calendar.api(member).post(
            "caldav", {"url": locked.url, "username": "ana", "password": "right-password"}
        )
    finally:
        locked.stop()
    nobody = calendar.api(member).post(
        "caldav", {"url": locked.url, "username": "ana", "password": "right-password"}
    )
    not_caldav = calendar.api(member).post(
        "caldav",
        {
            "url": CORE_PUBLIC_URL.replace(
                "https://crm.example.com", calendar.context.core.base_url
            )
            + "/healthz",
            "username": "ana",
            "password": "x",
        },
    )

    assert right.status_code == 201
    assert wrong.status_code == 422
    assert wrong.mimetype == "application/problem+json"
    assert set(wrong.get_json()["errors"]) == {"password"}
    assert nobody.status_code == 422
    assert set(nobody.get_json()["errors"]) == {"url"}
    assert "could not connect" in nobody.get_json()["detail"]
    assert not_caldav.status_code == 422
    assert set(not_caldav.get_json()["errors"]) == {"url"}
    assert [a["username"] for a in calendar.api(member).ok("GET", "caldav")["items"]] == ["ana"]


# --- pushing ------------------------------------------------------------------------------------


def test_my_open_tasks_are_pushed_as_to_dos_once_each(calendar, member, deal, new_user, radicale):
    timed = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    all_day = member.task(deal, "2026-12-03", "Send the offer", all_day=True)
    done = member.task(deal, "2026-12-04T09:30:00+01:00", "Already done")
    member.ok("POST", f"tasks/{done['id']}/close")
    ana = new_user("ana@example.com")
    member.task(deal, "2026-12-05T09:30:00+01:00", "Ana's", assignee_id=ana.user.id)
    calendar.catch_up()

    account = calendar.connect(member, radicale)
    assert account["pending"] == 2
    report = calendar.sync(account["id"])
    calendar.sync(account["id"])  # a second round pushes nothing again

    todos = calendar_app_of(account).by_uid()
    assert set(todos) == {uid(timed), uid(all_day)}
    assert report.pushed == 2
    assert todos[uid(timed)]["DUE"].dt == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert todos[uid(all_day)]["DUE"].dt == date(2026, 12, 3)
    assert todos[uid(timed)]["SUMMARY"] == "Call Ana back — ACME: 40 chairs"
    assert todos[uid(timed)]["URL"] == f"{CORE_PUBLIC_URL}/cards/{deal['id']}"
    state = calendar.account(member, account["id"])
    assert state["pending"] == 0 and state["last_error"] is None
    assert state["last_sync_at"] is not None


def test_a_task_changed_in_cardcrm_is_updated_in_the_calendar(calendar, member, deal, radicale):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    before = calendar_app_of(account).by_uid()[uid(task)]

    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-08T10:00:00+01:00"})
    member.ok("PATCH", f"cards/{deal['id']}", {"title": "ACME: 60 chairs"})
    calendar.catch_up()
    assert calendar.account(member, account["id"])["pending"] == 1  # coalesced
    calendar.sync(account["id"])

    after = calendar_app_of(account).by_uid()[uid(task)]
    assert after["DUE"].dt == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    assert after["SUMMARY"] == "Call Ana back — ACME: 60 chairs"
    assert after["SEQUENCE"] > before["SEQUENCE"]


@pytest.mark.parametrize("how", ["cancelled", "deleted", "card won", "card trashed", "reassigned"])
def test_a_task_that_is_no_longer_mine_and_open_leaves_the_calendar(
    calendar, member, deal, sales, new_user, radicale, how
):
    stays = member.task(deal, "2026-12-01T09:30:00+01:00", "Stays")
    other = member.card(sales, "Other deal")
    goes = member.task(other, "2026-12-02T09:30:00+01:00", "Goes")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    assert set(calendar_app_of(account).by_uid()) == {uid(stays), uid(goes)}

    if how == "cancelled":
        member.ok("POST", f"tasks/{goes['id']}/close", {"outcome": "cancelled"})
    elif how == "deleted":
        member.ok("DELETE", f"tasks/{goes['id']}", status=204)
    elif how == "card won":
        won = next(s for s in sales["statuses"] if s["group"] == "positive")
        member.ok("PATCH", f"cards/{other['id']}", {"status_id": won["id"]})
    elif how == "card trashed":
        member.ok("DELETE", f"cards/{other['id']}", status=204)
    else:
        ana = new_user("ana@example.com")
        member.ok("PATCH", f"tasks/{goes['id']}", {"assignee_id": ana.user.id})
    calendar.catch_up()
    report = calendar.sync(account["id"])

    assert report.deleted == 1
    assert set(calendar_app_of(account).by_uid()) == {uid(stays)}
    with calendar.context.database.session() as session:
        assert [row.task_id for row in session.scalars(select(RemoteTodo))] == [stays["id"]]


# --- pulling ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "completion",
    [
        {"STATUS": "COMPLETED"},
        {"COMPLETED": datetime(2026, 11, 30, 12, 0, tzinfo=UTC)},
        {"PERCENT_COMPLETE": 100},
    ],
    ids=["status", "completed", "percent"],
)
def test_a_to_do_completed_in_the_calendar_closes_the_task_as_mine(
    calendar, member, deal, radicale, completion
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    calendar_app_of(account).edit(uid(task), **completion)
    report = calendar.sync(account["id"], pull=True)

    closed = member.ok("GET", f"tasks/{task['id']}")
    assert report.pulled == 1
    assert closed["status"] == "done"
    assert closed["closed_by_id"] == member.user.id
    (entry,) = history(member, deal, "task.closed")
    assert entry["user_id"] == member.user.id
    assert "calendar" in entry["data"]["comment"]
    # Done here stays done there (for a week), as for a task done in cardcrm.
    calendar.catch_up()
    assert calendar.sync(account["id"], pull=True).pulled == 0
    assert calendar_app_of(account).by_uid()[uid(task)]["STATUS"] == "COMPLETED"


def test_a_task_completed_in_both_places_at_once_is_closed_once(calendar, member, deal, radicale):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    member.ok("POST", f"tasks/{task['id']}/close")  # the worker has not seen it yet
    calendar_app_of(account).edit(uid(task), STATUS="COMPLETED")
    calendar.sync(account["id"], pull=True)  # core refuses: it is closed already
    calendar.catch_up()
    calendar.sync(account["id"])

    assert len(history(member, deal, "task.closed")) == 1
    assert history(member, deal, "task.sync_conflict") == []
    assert [todo["STATUS"] for todo in calendar_app_of(account).by_uid().values()] == ["COMPLETED"]
    assert calendar.account(member, account["id"])["pending"] == 0


def test_a_to_do_cancelled_in_the_calendar_cancels_the_task(calendar, member, deal, radicale):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    calendar_app_of(account).edit(uid(task), STATUS="CANCELLED")
    calendar.sync(account["id"], pull=True)

    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "cancelled"


def test_a_due_date_moved_later_in_the_calendar_postpones_the_task(
    calendar, member, deal, radicale
):
    timed = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    all_day = member.task(deal, "2026-12-03", "Send the offer", all_day=True)
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    app = calendar_app_of(account)
    app.edit(uid(timed), DUE=datetime(2026, 12, 4, 15, 0, tzinfo=UTC))
    app.edit(uid(all_day), DUE=date(2026, 12, 10))
    calendar.sync(account["id"], pull=True)

    postponed = member.ok("GET", f"tasks/{timed['id']}")
    assert postponed["due"] == "2026-12-04T15:00:00Z"
    assert postponed["postponed_count"] == 1
    moved = member.ok("GET", f"tasks/{all_day['id']}")
    assert moved["due_date"] == "2026-12-10" and moved["all_day"] is True
    entries = history(member, deal, "task.postponed")
    assert len(entries) == 2 and {e["user_id"] for e in entries} == {member.user.id}
    # What comes back from core is pushed again, with the calendar's deadline.
    calendar.catch_up()
    calendar.sync(account["id"])
    todos = app.by_uid()
    assert todos[uid(timed)]["DUE"].dt == datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    assert todos[uid(all_day)]["DUE"].dt == date(2026, 12, 10)


def test_a_due_date_moved_earlier_in_the_calendar_edits_the_deadline(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-10T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    calendar_app_of(account).edit(uid(task), DUE=datetime(2026, 12, 2, 8, 0, tzinfo=UTC))
    calendar.sync(account["id"], pull=True)

    edited = member.ok("GET", f"tasks/{task['id']}")
    assert edited["due"] == "2026-12-02T08:00:00Z"
    assert edited["postponed_count"] == 0
    assert history(member, deal, "task.updated")[-1]["user_id"] == member.user.id


def test_a_cosmetic_edit_in_the_calendar_changes_nothing_in_cardcrm(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    calendar_app_of(account).edit(uid(task), LOCATION="Room 4", PRIORITY=1)
    calendar.sync(account["id"], pull=True)

    assert member.ok("GET", f"tasks/{task['id']}")["version"] == task["version"]


def test_a_to_do_deleted_in_the_calendar_comes_back_while_the_task_is_open(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    calendar_app_of(account).delete(uid(task))
    calendar.sync(account["id"], pull=True)

    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "open"
    assert set(calendar_app_of(account).by_uid()) == {uid(task)}


# --- conflicts ----------------------------------------------------------------------------------


def test_when_both_sides_changed_the_calendars_later_change_wins_and_cardcrms_is_kept(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-05T09:30:00+01:00"})
    calendar.catch_up()  # queued for the calendar, not pushed yet
    later = datetime.now(UTC) + timedelta(minutes=5)
    calendar_app_of(account).edit(
        uid(task), DUE=datetime(2026, 12, 7, 8, 0, tzinfo=UTC), LAST_MODIFIED=later
    )
    calendar.sync(account["id"])

    assert member.ok("GET", f"tasks/{task['id']}")["due"] == "2026-12-07T08:00:00Z"
    (conflict,) = history(member, deal, "task.sync_conflict")
    assert conflict["user_id"] == member.user.id
    assert conflict["data"]["source"] == "caldav"
    assert conflict["data"]["losing"]["side"] == "cardcrm"
    assert conflict["data"]["losing"]["due"] == "2026-12-05T08:30:00Z"
    assert conflict["data"]["winning"]["due"] == "2026-12-07T08:00:00Z"
    calendar.catch_up()
    calendar.sync(account["id"])
    todo = calendar_app_of(account).by_uid()[uid(task)]
    assert todo["DUE"].dt == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_when_both_sides_changed_cardcrms_later_change_wins_and_the_calendars_is_kept(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    earlier = datetime.now(UTC) - timedelta(minutes=5)
    calendar_app_of(account).edit(uid(task), STATUS="COMPLETED", LAST_MODIFIED=earlier)
    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-05T09:30:00+01:00"})
    calendar.catch_up()
    calendar.sync(account["id"])

    kept = member.ok("GET", f"tasks/{task['id']}")
    assert kept["status"] == "open" and kept["due"] == "2026-12-05T08:30:00Z"
    (conflict,) = history(member, deal, "task.sync_conflict")
    assert conflict["data"]["losing"] == {
        "side": "calendar",
        "status": "completed",
        "due": "2026-12-01T08:30:00Z",
        "summary": "Call back — ACME: 40 chairs",
        "changed_at": earlier.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    todo = calendar_app_of(account).by_uid()[uid(task)]
    assert todo["STATUS"] == "NEEDS-ACTION"
    assert todo["DUE"].dt == datetime(2026, 12, 5, 8, 30, tzinfo=UTC)


def test_a_task_closed_in_cardcrm_stays_closed_when_the_calendar_moved_it(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    member.ok("POST", f"tasks/{task['id']}/close")
    calendar.catch_up()
    calendar_app_of(account).edit(uid(task), DUE=datetime(2026, 12, 9, 8, 0, tzinfo=UTC))
    calendar.sync(account["id"])

    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "done"
    (conflict,) = history(member, deal, "task.sync_conflict")
    assert conflict["data"]["losing"]["due"] == "2026-12-09T08:00:00Z"
    # The to-do is cardcrm's again: done, at its deadline.
    todo = calendar_app_of(account).by_uid()[uid(task)]
    assert todo["STATUS"] == "COMPLETED"
    assert todo["DUE"].dt == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


# --- failures and restarts ----------------------------------------------------------------------


def test_a_server_down_mid_sync_loses_nothing_and_duplicates_nothing(
    calendar, member, deal, own_radicale
):
    first = member.task(deal, "2026-12-01T09:30:00+01:00", "First")
    calendar.catch_up()
    account = calendar.connect(member, own_radicale)
    calendar.sync(account["id"])

    own_radicale.stop()
    member.ok("POST", f"tasks/{first['id']}/postpone", {"due": "2026-12-02T09:30:00+01:00"})
    added = [member.task(deal, f"2026-12-0{day}T09:30:00+01:00", f"Task {day}") for day in (3, 4)]
    calendar.catch_up()
    report = calendar.sync(account["id"])
    calendar.sync(account["id"])

    down = calendar.account(member, account["id"])
    assert report.pushed == 0
    assert down["pending"] == 3
    assert "could not connect" in down["last_error"]
    with calendar.context.database.session() as session:
        stored = session.get(CaldavAccount, account["id"])
        assert stored.failures == 2 and stored.retry_at is not None
    assert calendar.sync_worker.due_accounts() in ([], [account["id"]])  # backing off

    own_radicale.start()
    calendar.sync(account["id"])

    todos = calendar_app_of(account).by_uid()  # raises if a task is there twice
    assert set(todos) == {uid(first), *(uid(task) for task in added)}
    assert todos[uid(first)]["DUE"].dt == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    up = calendar.account(member, account["id"])
    assert up["pending"] == 0 and up["last_error"] is None


def test_a_push_the_server_stored_before_the_worker_died_is_not_duplicated(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    # The worker died after the PUT and before noting it: the task is queued again, and the
    # service has no record of the to-do on the server.
    with calendar.context.database.writer.begin() as session:
        session.query(RemoteTodo).delete()
        session.add(PendingPush(account_id=account["id"], task_id=task["id"]))

    calendar.sync(account["id"], pull=False)

    assert set(calendar_app_of(account).by_uid()) == {uid(task)}
    assert calendar.account(member, account["id"])["pending"] == 0


def test_a_task_closed_after_an_unnoted_push_leaves_the_calendar(calendar, member, deal, radicale):
    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    # The worker died after the PUT and before noting it; then the task was closed.
    with calendar.context.database.writer.begin() as session:
        session.query(RemoteTodo).delete()
    member.ok("POST", f"tasks/{task['id']}/close", {})
    calendar.catch_up()

    calendar.sync(account["id"], pull=False)

    assert calendar_app_of(account).by_uid() == {}
    assert calendar.account(member, account["id"])["pending"] == 0


def test_a_restarted_worker_resumes_from_its_cursor(
    calendar, calendar_settings, member, deal, radicale
):
    from cardcrm.calendar_sync.context import CalendarContext

    first = member.task(deal, "2026-12-01T09:30:00+01:00", "Before the crash")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    cursor = calendar.follower.position()
    assert cursor > 0

    # The worker is killed; meanwhile people keep working.
    second = member.task(deal, "2026-12-02T09:30:00+01:00", "During the outage")
    member.ok("PATCH", f"tasks/{first['id']}", {"text": "Before the crash, edited"})

    restarted = CalendarContext.from_settings(calendar_settings)
    try:
        follower = restarted.follower()
        assert follower.position() == cursor
        handled = follower.catch_up()
        from cardcrm.calendar_sync.caldav.sync import CalDAVSync

        CalDAVSync(restarted).sync_account(account["id"])
    finally:
        restarted.close()

    assert handled == 2  # only the events after the cursor
    todos = calendar_app_of(account).by_uid()
    assert set(todos) == {uid(first), uid(second)}
    assert todos[uid(first)]["SUMMARY"].startswith("Before the crash, edited")
    with calendar.context.database.session() as session:
        assert session.get(EventCursor, "calendar_sync").last_id > cursor


def test_accounts_show_their_sync_state_and_can_be_removed(calendar, member, new_user, radicale):
    account = calendar.connect(member, radicale)
    ana = new_user("ana@example.com")

    assert calendar.api(ana).ok("GET", "caldav")["items"] == []
    assert calendar.api(ana).get(f"caldav/{account['id']}").status_code == 404
    assert calendar.api(ana).delete(f"caldav/{account['id']}").status_code == 404
    assert calendar.api(ana).post(f"caldav/{account['id']}/sync").status_code == 404
    now = calendar.api(member).ok("POST", f"caldav/{account['id']}/sync")
    assert now["id"] == account["id"]
    calendar.api(member).ok("DELETE", f"caldav/{account['id']}", status=204)
    assert calendar.api(member).ok("GET", "caldav")["items"] == []


def test_an_account_held_by_a_live_worker_is_left_to_it_and_one_that_died_is_taken_over(
    calendar, member, deal, radicale
):
    import socket
    import subprocess
    import sys

    task = member.task(deal, "2026-12-01T09:30:00+01:00")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    host = socket.gethostname()[:40]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()

    def held_by(owner: str) -> None:
        with calendar.context.database.writer.begin() as session:
            stored = session.get(CaldavAccount, account["id"])
            stored.lease_owner = owner
            stored.lease_until = datetime.now(UTC) + timedelta(minutes=2)

    held_by(f"{host}:{os.getpid()}:another-worker")  # alive: this very process
    assert calendar.sync_worker.due_accounts() == []
    assert calendar.sync(account["id"]).pushed == 0
    assert calendar.account(member, account["id"])["pending"] == 1

    held_by(f"{host}:{dead.pid}:crashed")
    assert calendar.sync_worker.due_accounts() == [account["id"]]
    assert calendar.sync(account["id"]).pushed == 1
    assert set(calendar_app_of(account).by_uid()) == {uid(task)}


# --- completed to-dos, and text and notes from the calendar ----------------------------------


def test_a_done_task_stays_completed_in_the_calendar_for_a_week_then_leaves(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    closed = member.ok("POST", f"tasks/{task['id']}/close")
    calendar.catch_up()
    calendar.sync(account["id"])
    todo = calendar_app_of(account).by_uid()[uid(task)]
    assert todo["STATUS"] == "COMPLETED" and todo["PERCENT-COMPLETE"] == 100
    done_at = datetime.fromisoformat(closed["closed_at"]).replace(microsecond=0)
    assert todo["COMPLETED"].dt == done_at

    # Six days on, a reconcile (which removes the to-dos of tasks that are not open) keeps it.
    worker = calendar.sync_worker
    closed_at = datetime.fromisoformat(closed["closed_at"])
    worker.clock = lambda: closed_at + timedelta(days=6)
    with calendar.context.database.writer.begin() as session:
        session.get(CaldavAccount, account["id"]).sync_token = None
    calendar.sync(account["id"], pull=True)
    assert calendar_app_of(account).by_uid()[uid(task)]["STATUS"] == "COMPLETED"

    # A week after it was done, the next round takes it away (no event says so).
    worker.clock = lambda: closed_at + timedelta(days=7, minutes=1)
    report = calendar.sync(account["id"], pull=True)
    assert report.deleted == 1
    assert calendar_app_of(account).by_uid() == {}
    with calendar.context.database.session() as session:
        assert session.scalars(select(RemoteTodo)).all() == []


def test_a_task_done_before_the_calendar_held_it_is_not_added_completed(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Done already")
    member.ok("POST", f"tasks/{task['id']}/close")
    calendar.catch_up()
    account = calendar.connect(member, radicale)

    calendar.sync(account["id"])

    assert calendar_app_of(account).by_uid() == {}


def test_a_summary_edited_in_the_calendar_is_the_tasks_new_text(calendar, member, deal, radicale):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    calendar_app_of(account).edit(uid(task), SUMMARY="Call Ana and Ion back — ACME: 40 chairs")
    report = calendar.sync(account["id"], pull=True)

    assert report.pulled == 1
    after = member.ok("GET", f"tasks/{task['id']}")
    assert after["text"] == "Call Ana and Ion back" and after["status"] == "open"
    (update,) = history(member, deal, "task.updated")
    assert update["user_id"] == member.user.id
    calendar.catch_up()
    calendar.sync(account["id"])
    todo = calendar_app_of(account).by_uid()[uid(task)]
    assert todo["SUMMARY"] == "Call Ana and Ion back — ACME: 40 chairs"
    assert calendar.sync(account["id"], pull=True).pulled == 0


def test_a_description_written_in_the_calendar_is_the_tasks_note(calendar, member, deal, radicale):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    app = calendar_app_of(account)
    description = str(app.by_uid()[uid(task)]["DESCRIPTION"])

    app.edit(uid(task), DESCRIPTION=description.replace("back\n", "back\nBring the offer.\n"))
    calendar.sync(account["id"], pull=True)
    # The same to-do completed later (its description as it was) writes no second note.
    app.edit(uid(task), STATUS="COMPLETED")
    calendar.sync(account["id"], pull=True)

    notes = member.ok("GET", f"cards/{deal['id']}/notes")["items"]
    assert [(note["body"], note["author_id"]) for note in notes] == [
        ("Bring the offer.", member.user.id)
    ]
    after = member.ok("GET", f"tasks/{task['id']}")
    assert after["text"] == "Call Ana back" and after["status"] == "done"


def test_when_both_sides_changed_the_text_cardcrms_later_change_wins_and_the_calendars_is_kept(
    calendar, member, deal, radicale
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])

    calendar_app_of(account).edit(
        uid(task),
        SUMMARY="Phone Ana — ACME: 40 chairs",
        LAST_MODIFIED=datetime(2026, 1, 1, tzinfo=UTC),
    )
    member.ok("PATCH", f"tasks/{task['id']}", {"text": "Visit Ana"})
    calendar.catch_up()
    calendar.sync(account["id"], pull=True)

    assert member.ok("GET", f"tasks/{task['id']}")["text"] == "Visit Ana"
    (conflict,) = history(member, deal, "task.sync_conflict")
    assert conflict["data"]["losing"]["summary"] == "Phone Ana — ACME: 40 chairs"
    todo = calendar_app_of(account).by_uid()[uid(task)]
    assert todo["SUMMARY"] == "Visit Ana — ACME: 40 chairs"
