"""CalDAV accounts name a server the service connects to on the user's behalf: it must not be a
way into the server's own network. Listeners of our own on loopback addresses show that
nothing connects to a refused address, and the 422s tell no port from another."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from cardcrm.calendar_sync import create_app
from cardcrm.calendar_sync.models import CaldavAccount
from sqlalchemy import select

from tests.listeners import FakeNames, Listener, closed_port

from .conftest import CalendarService

REFUSED = "refused: private address; an operator can allow it with CARDCRM_OUTBOUND_ALLOW"


@pytest.fixture
def service(calendar_settings: dict[str, Any], member: Any) -> Iterator[Any]:
    """``service(allow)``: the calendar service with ``CARDCRM_OUTBOUND_ALLOW`` = ``allow``."""
    made: list[CalendarService] = []

    def with_allow(allow: str) -> CalendarService:
        app = create_app({**calendar_settings, "OUTBOUND_ALLOW": allow})
        made.append(CalendarService(app, type(member)))
        return made[-1]

    yield with_allow
    for each in made:
        each.sync_worker.close()
        each.context.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener("127.0.0.2", status=207, body=b"<not-caldav/>") as server:
        yield server


@pytest.fixture
def local() -> Iterator[Listener]:
    with Listener("127.0.0.1", status=207, body=b"<not-caldav/>") as server:
        yield server


def connect(service: CalendarService, member: Any, url: str) -> Any:
    body = {"url": url, "username": "ana", "password": "app-password"}
    return service.api(member).post("caldav", body)


@pytest.mark.parametrize(
    "spelling",
    [
        "http://127.0.0.2:{port}/dav/",
        "http://2130706434:{port}/dav/",  # decimal
        "http://0x7f000002:{port}/dav/",  # hexadecimal
        "http://[::ffff:7f00:2]:{port}/dav/",  # IPv4-mapped IPv6
        # (The octal 0177.0.0.2 and the mapped [::ffff:127.0.0.2] are not URLs to the URL
        # field's rule: refused before the guard, which catches them too: tests/test_outbound.py.)
    ],
)
def test_an_account_at_a_private_address_is_refused_before_anything_connects(
    service, member, listener, spelling
):
    answer = connect(service(""), member, spelling.format(port=listener.port))
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["errors"] == {"url": [REFUSED]}
    assert listener.accepted == 0


@pytest.mark.parametrize("host", ["localhost", "0.0.0.0", "127.0.0.1"])
def test_an_account_on_this_machine_is_refused_before_anything_connects(
    service, member, local, host
):
    answer = connect(service(""), member, f"http://{host}:{local.port}/dav/")
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == {"url": [REFUSED]}
    assert local.accepted == 0


def test_the_cloud_metadata_address_is_refused(service, member):
    answer = connect(service(""), member, "http://169.254.169.254/latest/meta-data/")
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == {"url": [REFUSED]}
    assert answer.get_json()["detail"] == f"url: {REFUSED}"


def test_a_redirect_to_a_private_address_is_not_followed(service, member, listener):
    with Listener("127.0.0.3") as inside:
        listener.status, listener.headers = 301, {"Location": inside.url + "dav/"}
        answer = connect(service(f"127.0.0.2:{listener.port}"), member, listener.url)
        assert answer.status_code == 422
        assert answer.get_json()["errors"] == {"url": [REFUSED]}
        assert listener.accepted >= 1
        assert inside.accepted == 0


def test_the_allowed_address_and_port_is_reached_and_no_other_port(service, member, listener):
    allowed = service(f"127.0.0.2:{listener.port}")
    with Listener("127.0.0.2") as other:
        refused = connect(allowed, member, other.url)
        reached = connect(allowed, member, listener.url)
        assert refused.get_json()["errors"] == {"url": [REFUSED]}
        assert other.accepted == 0
    assert reached.status_code == 422  # it is no CalDAV server, but it was asked
    assert listener.accepted >= 1


def test_failures_read_the_same_whatever_listens_on_the_port(service, member):
    """A closed port, a service that is not HTTP and one that hangs up read alike; an HTTP
    server adds its status, never what it answered."""
    allowed = service("127.0.0.2")
    secret = b"<html>intranet admin console, build 4.2.1</html>"
    with (
        Listener(raw=b"SSH-2.0-OpenSSH_9.6 intranet-gateway\r\n") as ssh,
        Listener(raw=b"") as hangs_up,
        Listener(status=500, body=secret) as failing,
        Listener(status=401, body=secret, headers={"WWW-Authenticate": 'Basic realm="x"'}) as auth,
    ):
        answers = {
            name: connect(allowed, member, url).get_json()
            for name, url in {
                "closed": f"http://127.0.0.2:{closed_port()}/",
                "ssh": ssh.url,
                "hangs up": hangs_up.url,
                "failing": failing.url,
                "auth": auth.url,
            }.items()
        }
    generic = "No CalDAV server answers at this URL (connect: could not connect)."
    for name in ("closed", "ssh", "hangs up"):
        assert answers[name]["errors"] == {"url": [generic]}, name
    assert answers["failing"]["errors"] == {
        "url": ["No CalDAV server answers at this URL (connect: the server answered HTTP 500)."]
    }
    assert answers["auth"]["errors"] == {
        "password": [
            "The server refused the user name or password (connect: the server answered HTTP 401)."
        ]
    }
    for answer in answers.values():
        assert "intranet" not in str(answer) and "OpenSSH" not in str(answer)


def test_the_worker_refuses_a_server_whose_name_now_resolves_to_a_private_address(
    calendar, member, sales, radicale, monkeypatch
):
    # The name was Radicale's (allowed) when the account was connected; it resolves to another
    # loopback address since (DNS rebinding), where a listener waits on the same port.
    names = FakeNames()
    names["caldav.rebinding.example"] = ["127.0.0.1"]
    monkeypatch.setattr(socket, "getaddrinfo", names.getaddrinfo)
    url = f"http://caldav.rebinding.example:{radicale.port}/"
    account = calendar.api(member).ok(
        "POST", "caldav", {"url": url, "username": "ana-rebound", "password": "x"}, status=201
    )
    assert account["calendar_url"].startswith(url)
    member.task(sales_card(member, sales), "2026-12-01T09:30:00+01:00", "Call Ana back")
    calendar.catch_up()

    names["caldav.rebinding.example"] = ["127.0.0.2"]
    with Listener("127.0.0.2", port=radicale.port) as rebound:
        calendar.sync(account["id"])
        assert rebound.accepted == 0
    state = calendar.account(member, account["id"])
    assert state["last_error"] == "refused: private address"
    assert state["pending"] == 1


def test_the_worker_refuses_a_server_the_operator_no_longer_allows(
    calendar, service, member, sales, radicale
):
    account = calendar.connect(member, radicale)
    member.task(sales_card(member, sales), "2026-12-01T09:30:00+01:00", "Call Ana back")
    restarted = service("")  # CARDCRM_OUTBOUND_ALLOW emptied, the service restarted
    restarted.catch_up()
    restarted.sync(account["id"])
    with restarted.context.database.session() as session:
        stored = session.scalar(select(CaldavAccount).where(CaldavAccount.id == account["id"]))
        assert stored.last_error == "refused: private address"
        assert stored.failures == 1


def sales_card(member: Any, sales: dict) -> dict:
    return member.card(sales, "ACME renewal")
