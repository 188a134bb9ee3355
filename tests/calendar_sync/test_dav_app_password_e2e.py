"""A calendar app (python-caldav, over real HTTP) signs in to the CalDAV server with the user's
e-mail and an app password made through the API, sees the user's tasks, and is refused at once
when the password is revoked; the account password never signs in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import caldav
import pytest
from caldav.lib.error import AuthorizationError
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from .conftest import free_port


@pytest.fixture
def site(calendar: Any) -> Iterator[str]:
    """The calendar app under /calendar on a real loopback port, as ``cardcrm up`` mounts it."""
    app = DispatcherMiddleware(Response("core", 404), {"/calendar": calendar.app})
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{port}/calendar/dav/"
    server.shutdown()
    server.server_close()
    thread.join(5)


def client(site: str, email: str, password: str) -> caldav.DAVClient:
    return caldav.DAVClient(url=site, username=email, password=password, enable_rfc6764=False)


def test_a_calendar_app_signs_in_with_an_app_password_until_it_is_revoked(
    calendar, member, sales, site
):
    card = member.card(sales, "Acme")
    member.task(card, "2026-12-10T09:00:00Z", "Call Acme")
    calendar.catch_up()
    made = calendar.api(member).ok("POST", "app-passwords", {"name": "Phone"}, status=201)

    calendars = client(site, "Member@Example.com", made["password"]).principal().calendars()

    assert len(calendars) == 2
    assert any("Call Acme" in todo.data for found in calendars for todo in found.todos())
    assert calendar.api(member).ok("GET", "app-passwords")["items"][0]["last_used_at"]
    with pytest.raises(AuthorizationError):
        client(site, member.user.email, "password123").principal()
    calendar.api(member).ok("DELETE", f"app-passwords/{made['id']}", status=204)
    with pytest.raises(AuthorizationError):
        client(site, member.user.email, made["password"]).principal()
