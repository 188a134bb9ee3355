"""Secrets never reach the logs: feed tokens, CalDAV passwords, API tokens and passwords.

Everything is logged at DEBUG, from every logger (ours, caldav's, requests', werkzeug's),
while a user logs in, makes a feed, reads it, connects a CalDAV account with a password, has
a task pushed, and while things fail (a wrong feed token, a calendar that refuses the
password): no record, nor the traceback it carries, shows any of the secrets.
"""

from __future__ import annotations

import base64
import logging
import traceback

from cardcrm.calendar_sync.models import CaldavAccount
from sqlalchemy import update

from .conftest import PUBLIC_URL, Radicale

DAV_PASSWORD = "dav-pass-7c1e9b"


def logged_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def test_no_secret_is_ever_logged(calendar, member, sales, anonymous, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    folder = tmp_path / "locked"
    folder.mkdir()
    server = Radicale(folder, users={"ana": DAV_PASSWORD}).start()
    try:
        login = anonymous.post(
            "auth/token", {"email": member.user.email, "password": "password123"}
        )
        assert login.status_code == 201
        api_token = login.get_json()["token"]
        assert (
            anonymous.post(
                "auth/token", {"email": member.user.email, "password": "wrong-password123"}
            ).status_code
            == 401
        )

        feed_url = calendar.new_feed(member)
        feed_token = feed_url.removeprefix(PUBLIC_URL).split("/")[-1].split(".")[0]
        assert len(feed_token) >= 24
        calendar.feed(feed_url)
        assert (
            calendar.get(feed_url.replace(feed_token, feed_token[:-4] + "abcd")).status_code == 404
        )

        account = calendar.connect(member, server, "ana", password=DAV_PASSWORD)
        card = member.card(sales, "ACME")
        member.task(card, "2026-12-01T10:00:00Z", "Call ACME", assignee_id=member.user.id)
        calendar.catch_up()
        calendar.sync(account["id"])

        # The server now refuses the stored password: the failure is logged, not the secret.
        with calendar.context.database.writer.begin() as session:
            session.execute(
                update(CaldavAccount).values(
                    password_encrypted=calendar.context.passwords.seal("not-the-password")
                )
            )
        calendar.sync(account["id"], pull=True)
    finally:
        server.stop()

    logged = logged_text(caplog.records)
    # The run logged what it should (else this test would prove nothing): HTTP traffic and
    # the refused sync.
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    assert any(
        record.name.startswith("cardcrm") and record.levelno >= logging.WARNING
        for record in caplog.records
    ), logged
    secrets = {
        "feed token": feed_token,
        "CalDAV password": DAV_PASSWORD,
        "basic auth": base64.b64encode(f"ana:{DAV_PASSWORD}".encode()).decode(),
        "API token from login": api_token,
        "member's API token": member.token,
        "member's password": "password123",
        "wrong password": "wrong-password123",
    }
    for name, secret in secrets.items():
        assert secret not in logged, f"the {name} was logged"
