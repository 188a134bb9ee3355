"""``/.well-known/caldav``: a calendar app given only the site's address finds the CalDAV
server (RFC 6764), whichever method it asks with, wherever the site is served from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cardcrm.common.proxy import behind_proxies
from cardcrm.core import create_app

NGINX_SITE = Path(__file__).parents[2] / "contrib" / "nginx" / "cardcrm.conf"


@pytest.fixture
def site(app_config: dict[str, Any]) -> Any:
    """Core as ``cardcrm up`` runs it: with the calendar sync service mounted beside it."""
    return create_app({**app_config, "SIDECARS": ["calendar", "notifications"]})


@pytest.mark.parametrize("method", ["GET", "HEAD", "PROPFIND", "OPTIONS"])
def test_well_known_caldav_redirects_to_the_dav_root(site, method):
    response = site.test_client().open("/.well-known/caldav", method=method)

    assert response.status_code == 301
    assert response.headers["Location"] == "http://localhost/calendar/dav/"


def test_a_propfind_with_a_body_and_no_session_is_redirected_too(site):
    body = (
        '<?xml version="1.0"?>'
        '<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>'
    )
    response = site.test_client().open(
        "/.well-known/caldav",
        method="PROPFIND",
        data=body,
        headers={"Depth": "0", "Content-Type": "application/xml"},
    )

    assert response.status_code == 301
    assert response.headers["Location"].endswith("/calendar/dav/")


def test_behind_a_trusted_proxy_the_address_is_the_one_the_client_used(site):
    site.wsgi_app = behind_proxies(site.wsgi_app, 1)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "crm.example.com"}

    response = site.test_client().open("/.well-known/caldav", method="PROPFIND", headers=forwarded)

    assert response.headers["Location"] == "https://crm.example.com/calendar/dav/"


def test_without_the_calendar_service_there_is_no_caldav_server(app):
    for method in ("GET", "PROPFIND"):
        response = app.test_client().open("/.well-known/caldav", method=method)
        assert response.status_code == 404


def test_nginx_sends_well_known_caldav_to_the_dav_root():
    text = NGINX_SITE.read_text()
    (body,) = re.findall(r"\n    location = /\.well-known/caldav \{(.*?)\n    \}", text, re.DOTALL)
    assert "return 301 /calendar/dav/;" in body
