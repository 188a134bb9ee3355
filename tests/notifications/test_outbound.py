"""Webhook URLs are the user's: the service must not post to its own network for them.
Listeners of our own on loopback addresses show that nothing connects to a refused address,
at save time or at delivery, and that ``last_error`` tells no more than an HTTP status.

These tests' service allows 127.0.0.1 (``OUTBOUND_ALLOW`` in ``conftest.settings``);
127.0.0.2 and 127.0.0.3 stay refused unless a test allows them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cardcrm.notifications import create_app
from cardcrm.notifications.worker import Worker

from tests.listeners import FakeNames, Listener

from .helpers import iso, sales_card

REFUSED = "refused: private address; an operator can allow it with CARDCRM_OUTBOUND_ALLOW"


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener("127.0.0.2", status=204) as server:
        yield server


@pytest.fixture
def service(settings: dict[str, Any], clock: Any) -> Iterator[Any]:
    """``service(allow)``: the notifications app and a worker with ``CARDCRM_OUTBOUND_ALLOW``
    = ``allow``, as a restarted service would have them."""
    made: list[tuple[Any, Worker]] = []

    def with_allow(allow: str) -> tuple[Any, Worker]:
        changed = {**settings, "OUTBOUND_ALLOW": allow}
        made.append((create_app(changed), Worker(changed, clock=clock)))
        return made[-1]

    yield with_allow
    for app, worker in made:
        worker.context.close()
        app.extensions["cardcrm_notifications"].close()


def save_webhook(app: Any, user: Any, url: str) -> Any:
    return app.test_client().patch(
        "/api/v1/preferences",
        json={"webhook_url": url},
        headers={"Authorization": f"Bearer {user.token}"},
    )


def webhook_deliveries(app: Any, user: Any) -> list[dict[str, Any]]:
    answer = app.test_client().get(
        "/api/v1/deliveries?channel=webhook", headers={"Authorization": f"Bearer {user.token}"}
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def assign_a_task(admin: Any, member: Any, clock: Any) -> None:
    card = sales_card(admin, member)
    admin.task(card, iso(clock.now + timedelta(days=2)), "Prepare", assignee_id=member.user.id)


@pytest.mark.parametrize(
    "spelling",
    [
        "http://127.0.0.2:{port}/hook",
        "http://2130706434:{port}/hook",  # decimal
        "http://0x7f000002:{port}/hook",  # hexadecimal
        "http://0177.0.0.2:{port}/hook",  # octal
        "http://[::ffff:127.0.0.2]:{port}/hook",  # IPv4-mapped IPv6
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:{port}/hook",
        "http://[::1]:{port}/hook",
    ],
)
def test_a_webhook_at_a_private_address_is_refused_when_saved(
    member, notifications, listener, spelling
):
    answer = notifications(member).request(
        "PUT", "preferences", {"webhook_url": spelling.format(port=listener.port)}
    )
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["errors"] == {"webhook_url": [REFUSED]}
    assert notifications(member).ok("GET", "preferences")["webhook_url"] is None
    assert listener.accepted == 0


def test_the_allowed_address_and_port_gets_webhooks_and_no_other_port(
    admin, member, service, listener, clock
):
    app, worker = service(f"127.0.0.2:{listener.port}")
    with Listener("127.0.0.2") as other:
        refused = save_webhook(app, member, other.url)
        assert refused.status_code == 422
        assert refused.get_json()["errors"] == {"webhook_url": [REFUSED]}
        assert other.accepted == 0
    assert save_webhook(app, member, listener.url + "hook").status_code == 200
    assign_a_task(admin, member, clock)
    worker.drain()
    [webhook] = webhook_deliveries(app, member)
    assert webhook["state"] == "sent"
    assert listener.accepted == 1


def test_a_webhook_the_operator_no_longer_allows_is_dead_without_a_connection(
    admin, member, service, listener, clock
):
    allowed, _ = service(f"127.0.0.2:{listener.port}")
    assert save_webhook(allowed, member, listener.url + "hook").status_code == 200
    app, worker = service("")  # CARDCRM_OUTBOUND_ALLOW emptied, the service restarted
    assign_a_task(admin, member, clock)
    worker.drain()
    [webhook] = webhook_deliveries(app, member)
    assert (webhook["state"], webhook["attempts"]) == ("dead", 1)
    assert webhook["last_error"] == "refused: private address"
    assert listener.accepted == 0


def test_a_webhook_whose_name_resolves_to_a_private_address_by_delivery_is_refused(
    admin, member, notifications, worker, listener, clock, monkeypatch
):
    # DNS rebinding: a public address when the URL is saved, a loopback one at delivery.
    names = FakeNames()
    names["hooks.rebinding.example"] = ["93.184.216.34", "127.0.0.2"]
    monkeypatch.setattr(socket, "getaddrinfo", names.getaddrinfo)
    url = f"http://hooks.rebinding.example:{listener.port}/hook"
    assert notifications(member).preferences(webhook_url=url)["webhook_url"] == url
    assign_a_task(admin, member, clock)
    worker.drain()
    [webhook] = notifications(member).deliveries(channel="webhook")
    assert (webhook["state"], webhook["last_error"]) == ("dead", "refused: private address")
    assert listener.accepted == 0


def test_a_redirect_is_not_followed_to_a_private_address(admin, member, service, listener, clock):
    with Listener("127.0.0.3") as inside:
        listener.status, listener.headers = 307, {"Location": inside.url + "hook"}
        app, worker = service(f"127.0.0.2:{listener.port}")
        assert save_webhook(app, member, listener.url + "hook").status_code == 200
        assign_a_task(admin, member, clock)
        worker.drain()
        [webhook] = webhook_deliveries(app, member)
        assert (webhook["state"], webhook["last_error"]) == (
            "dead",
            "the webhook answered HTTP 307",
        )
        assert listener.accepted == 1
        assert inside.accepted == 0


def test_last_error_tells_the_status_and_never_what_the_receiver_said(
    admin, member, service, listener, clock
):
    listener.status, listener.body = 500, b"Traceback: psycopg.OperationalError at 10.0.3.7"
    app, worker = service(f"127.0.0.2:{listener.port}")
    assert save_webhook(app, member, listener.url + "hook").status_code == 200
    assign_a_task(admin, member, clock)
    worker.drain()
    [webhook] = webhook_deliveries(app, member)
    assert (webhook["state"], webhook["last_error"]) == (
        "retrying",
        "the webhook answered HTTP 500",
    )


def test_a_webhook_at_a_port_that_is_not_http_reads_like_one_that_is_closed(
    admin, member, service, clock
):
    with Listener(raw=b"220 mail.intranet ESMTP Postfix\r\n") as smtp:
        app, worker = service("127.0.0.2")
        assert save_webhook(app, member, smtp.url + "hook").status_code == 200
        assign_a_task(admin, member, clock)
        worker.drain()
        [webhook] = webhook_deliveries(app, member)
    assert (webhook["state"], webhook["last_error"]) == (
        "retrying",
        "the webhook could not connect",
    )
