"""A calendar heals: to-dos a CalDAV server refuses wait for their task's next change, and
to-dos of tasks core no longer has (a restored backup) leave the calendar. Real Radicale, core
over real HTTP; the refusing server is a small HTTP proxy of our own in front of Radicale."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cardcrm.calendar_sync.remote import RemoteCalendar

from .conftest import Radicale, calendar_app_of


def uid(task: dict) -> str:
    return f"task-{task['id']}@crm.example.com"


@pytest.fixture
def deal(member, sales) -> dict:
    return member.card(sales, "ACME: 40 chairs")


class RefusingProxy:
    """Forwards to Radicale, but answers ``412`` to every PUT while ``refusing`` (as Xandikos
    did to a to-do it would not store), or to those that change a to-do while ``refusing`` is
    ``"changes"``; counts the PUTs it saw."""

    def __init__(self, radicale: Radicale) -> None:
        self.refusing: bool | str = True
        self.puts = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "PUT":
                    proxy.puts += 1
                    if proxy.refusing is True or (
                        proxy.refusing == "changes" and "If-Match" in self.headers
                    ):
                        self.send_response(412)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                upstream = http.client.HTTPConnection("127.0.0.1", radicale.port, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body, headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def refusing(calendar, radicale) -> Iterator[RefusingProxy]:
    """The sync worker talks to Radicale through the proxy (the account was checked on
    Radicale itself)."""
    proxy = RefusingProxy(radicale)

    def connect(account: Any, password: str) -> RemoteCalendar:
        return RemoteCalendar(
            proxy.url,
            account.username,
            password,
            account.calendar_url.replace(radicale.url, proxy.url),
            calendar.context.outbound,
        )

    calendar.sync_worker.connect = connect
    yield proxy
    proxy.close()


def test_a_to_do_the_server_refuses_is_named_and_not_sent_again_until_its_task_changes(
    calendar, member, deal, radicale, refusing
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)

    calendar.sync(account["id"])
    refused = calendar.account(member, account["id"])
    assert "HTTP 412" in refused["last_error"] and str(task["id"]) in refused["last_error"]
    assert refused["pending"] == 0
    puts = refusing.puts

    for _ in range(3):
        calendar.sync(account["id"])
    assert refusing.puts == puts  # not sent again, round after round
    assert calendar.sync_worker.due_accounts() == []
    later = calendar.account(member, account["id"])
    assert "HTTP 412" in later["last_error"] and str(task["id"]) in later["last_error"]

    refusing.refusing = False
    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-02T09:30:00+01:00"})
    calendar.catch_up()
    calendar.sync(account["id"])

    assert refusing.puts == puts + 1
    assert set(calendar_app_of(account).by_uid()) == {uid(task)}
    healed = calendar.account(member, account["id"])
    assert healed["pending"] == 0 and healed["last_error"] is None


# --- after a restore of core --------------------------------------------------------------------

OWN_TODO = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//phone//EN
BEGIN:VTODO
UID:{uid}
DTSTAMP:20261201T080000Z
SUMMARY:Buy milk
END:VTODO
END:VCALENDAR
"""


def restore_core_without(db_session, tasks: list[dict]) -> None:
    """What a restore of core from a backup made before ``tasks`` does to them: gone, with no
    event saying so."""
    from cardcrm.core.tasks.models import Task
    from sqlalchemy import delete

    db_session.execute(delete(Task).where(Task.id.in_([task["id"] for task in tasks])))
    db_session.commit()


def test_after_a_restore_of_core_the_to_dos_of_tasks_it_lacks_leave_the_calendar(
    calendar, member, deal, radicale, db_session
):
    from cardcrm.calendar_sync.caldav.sync import CalDAVSync
    from cardcrm.calendar_sync.models import MirrorTask, RemoteTodo

    kept = member.task(deal, "2026-12-01T09:30:00+01:00", "Before the backup")
    after = [member.task(deal, f"2026-12-0{day}T09:30:00+01:00", f"After {day}") for day in (2, 3)]
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    phone = calendar_app_of(account)
    phone.calendar.save_todo(OWN_TODO.format(uid="milk@phone"))
    # The user's own object at cardcrm's href form, with a UID of its own, stays too.
    phone.client.put(
        f"{account['calendar_url']}cardcrm-task-999999.ics",
        OWN_TODO.format(uid="eggs@phone"),
        {"Content-Type": "text/calendar"},
    )
    assert set(phone.by_uid()) == {uid(kept), *map(uid, after), "milk@phone", "eggs@phone"}

    restore_core_without(db_session, after)
    # The calendar service's database was restored too for the last one: no record of it.
    with calendar.context.database.writer.begin() as session:
        session.query(RemoteTodo).filter(RemoteTodo.task_id == after[1]["id"]).delete()
        session.query(MirrorTask).filter(MirrorTask.id == after[1]["id"]).delete()

    # The worker restarted with the restore.
    worker = CalDAVSync(calendar.context)
    try:
        report = worker.sync_account(account["id"])
        assert report.orphans == 2
        assert set(phone.by_uid()) == {uid(kept), "milk@phone", "eggs@phone"}
        again = worker.sync_account(account["id"])  # nothing comes back, nothing else goes
        assert again.orphans == 0 and again.pushed == 0
    finally:
        worker.close()
    assert set(phone.by_uid()) == {uid(kept), "milk@phone", "eggs@phone"}
    state = calendar.account(member, account["id"])
    assert state["last_error"] is None and state["pending"] == 0


def test_a_change_the_server_keeps_refusing_with_412_is_not_pulled_and_pushed_every_round(
    calendar, member, deal, radicale, refusing
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    refusing.refusing = False
    calendar.sync(account["id"])
    refusing.refusing = "changes"
    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-02T09:30:00+01:00"})
    calendar.catch_up()

    calendar.sync(account["id"])  # 412, pulled (nothing changed there), 412 again: refused
    refused = calendar.account(member, account["id"])
    assert "HTTP 412" in refused["last_error"] and str(task["id"]) in refused["last_error"]
    puts = refusing.puts
    for _ in range(3):
        calendar.sync(account["id"], pull=True)
    assert refusing.puts == puts

    refusing.refusing = False
    member.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-03T09:30:00+01:00"})
    calendar.catch_up()
    calendar.sync(account["id"])
    todo = calendar_app_of(account).by_uid()[uid(task)]
    assert todo["DUE"].dt.day == 3
    assert calendar.account(member, account["id"])["last_error"] is None


def test_asking_for_a_sync_sends_the_refused_to_dos_again(
    calendar, member, deal, radicale, refusing
):
    task = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()
    account = calendar.connect(member, radicale)
    calendar.sync(account["id"])
    assert "HTTP 412" in calendar.account(member, account["id"])["last_error"]

    refusing.refusing = False  # the user fixed the calendar
    asked = calendar.api(member).ok("POST", f"caldav/{account['id']}/sync")
    assert asked["pending"] == 1
    calendar.sync(account["id"])

    assert set(calendar_app_of(account).by_uid()) == {uid(task)}
    assert calendar.account(member, account["id"])["last_error"] is None
