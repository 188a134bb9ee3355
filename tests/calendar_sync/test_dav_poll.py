"""A phone's poll of an unchanged collection: a PROPFIND of the collection's ``getctag`` and
``sync-token``, then a ``sync-collection`` from the token it has, every few minutes.

The answers are kept per process while the collection is unchanged (``dav/cache.py``), and the
sign-in's statement is built once (``app_passwords.py``), yet a change of the collection shows
in the next poll and a revoked app password is refused at the next request, also by another
process of the service on the same database (``cardcrm serve calendar``) that has answered the
same poll before, so that anything it keeps is warm.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.cardcrm_up import cardcrm_serve

from .dav_helpers import NS

CTAG = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">'
    "<D:prop><CS:getctag/><D:sync-token/></D:prop></D:propfind>"
)


def sync_body(token: str) -> str:
    return (
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )


class Phone:
    """A calendar app polling one collection with the user's e-mail and an app password."""

    def __init__(self, send: Any, user_id: int, email: str, password: str) -> None:
        self.send = send  # (method, path, body, headers) -> (status, bytes)
        self.path = f"/dav/calendars/{user_id}/tasks/"
        credentials = base64.b64encode(f"{email}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}"}

    def ctag(self) -> tuple[int, str | None]:
        status, body = self.send("PROPFIND", self.path, CTAG, {**self.headers, "Depth": "0"})
        if status != 207:
            return status, None
        return status, etree.fromstring(body).findtext(".//CS:getctag", namespaces=NS)

    def sync(self, token: str) -> tuple[int, list[str], str | None]:
        """The status, the hrefs listed as changed and the new token."""
        status, body = self.send(
            "REPORT", self.path, sync_body(token), {**self.headers, "Depth": "1"}
        )
        if status != 207:
            return status, [], None
        tree = etree.fromstring(body)
        hrefs = [item.findtext("D:href", namespaces=NS) for item in tree.findall("D:response", NS)]
        return status, hrefs, tree.findtext("D:sync-token", namespaces=NS)

    def poll(self, token: str) -> tuple[str | None, list[str], str | None]:
        """The ctag, then what changed since ``token`` and the token of now."""
        status, ctag = self.ctag()
        assert status == 207, status
        status, changed, current = self.sync(token)
        assert status == 207, status
        return ctag, changed, current


def in_process(calendar: Any) -> Any:
    def send(method: str, path: str, body: str, headers: dict[str, str]) -> tuple[int, bytes]:
        response = calendar.client.open(path, method=method, data=body, headers=headers)
        return response.status_code, response.data

    return send


def over_http(base: str) -> Any:
    def send(method: str, path: str, body: str, headers: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(
            base + path, data=body.encode(), method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    return send


@pytest.fixture
def deal(member: Any, sales: dict) -> dict:
    return member.card(sales, "Acme")


@pytest.fixture
def password(calendar: Any, member: Any) -> dict[str, Any]:
    return calendar.api(member).ok("POST", "app-passwords", {"name": "Phone"}, status=201)


@pytest.fixture
def other_process(calendar_settings: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    """``cardcrm serve calendar`` on the test's calendar database: another process with its
    own kept answers and statements."""
    with cardcrm_serve(
        "calendar",
        tmp_path / "other",
        CARDCRM_CALENDAR_DATABASE_URL=calendar_settings["DATABASE_URL"],
        CARDCRM_CORE_URL=calendar_settings["CORE_URL"],
        CARDCRM_SERVICE_TOKEN=calendar_settings["SERVICE_TOKEN"],
        CARDCRM_SECRET_KEY=calendar_settings["SECRET_KEY"],
    ) as base:
        yield base


def test_an_unchanged_poll_answers_the_same_and_a_change_shows_in_the_next(
    calendar, member, deal, password
):
    member.task(deal, "2026-12-10T09:00:00Z", "Call Acme")
    second = member.task(deal, "2026-12-11T09:00:00Z", "Send the offer")
    calendar.catch_up()
    phone = Phone(in_process(calendar), member.user.id, member.user.email, password["password"])
    _status, listed, token = phone.sync("")
    assert len(listed) == 2 and token

    # Nothing changed: the same token, nothing listed, however often it asks.
    for _ in range(3):
        assert phone.poll(token) == (token, [], token)

    member.ok("PATCH", f"tasks/{second['id']}", {"text": "Send the new offer"})
    calendar.catch_up()

    ctag, changed, newer = phone.poll(token)
    assert ctag == newer and newer != token
    assert changed == [f"{phone.path}{second['id']}.ics"]
    assert phone.poll(newer) == (newer, [], newer)
    # The old token still lists the change (its answer is made again, not an older one kept).
    assert phone.sync(token)[1] == changed


def test_a_revoked_password_is_refused_at_once_by_the_process_that_kept_its_poll(
    calendar, member, deal, password
):
    member.task(deal, "2026-12-10T09:00:00Z", "Call Acme")
    calendar.catch_up()
    phone = Phone(in_process(calendar), member.user.id, member.user.email, password["password"])
    token = phone.sync("")[2]
    assert token and phone.poll(token) == (token, [], token)

    calendar.api(member).ok("DELETE", f"app-passwords/{password['id']}", status=204)

    assert phone.ctag() == (401, None)
    assert phone.sync(token)[0] == 401


def test_another_process_sees_a_revocation_and_a_change_at_once(
    calendar, member, deal, password, other_process
):
    """The other process answered the poll before (its answers kept, its sign-in warm); this
    process then changes the collection and revokes the password."""
    task = member.task(deal, "2026-12-10T09:00:00Z", "Call Acme")
    calendar.catch_up()
    kept = calendar.api(member).ok("POST", "app-passwords", {"name": "Laptop"}, status=201)
    phone = Phone(over_http(other_process), member.user.id, member.user.email, password["password"])
    laptop = Phone(over_http(other_process), member.user.id, member.user.email, kept["password"])
    token = phone.sync("")[2]
    assert token
    for _ in range(2):
        assert phone.poll(token) == (token, [], token)
        assert laptop.poll(token) == (token, [], token)

    member.ok("PATCH", f"tasks/{task['id']}", {"text": "Call Acme again"})
    calendar.catch_up()  # in this process: the other one learns of it from the database only

    ctag, changed, newer = phone.poll(token)
    assert ctag == newer and newer != token
    assert changed == [f"{phone.path}{task['id']}.ics"]

    calendar.api(member).ok("DELETE", f"app-passwords/{password['id']}", status=204)

    assert phone.ctag() == (401, None)
    assert phone.sync(newer)[0] == 401
    assert laptop.poll(newer) == (newer, [], newer)
