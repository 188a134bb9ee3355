"""The calendar page's "Phone and computer calendars (CalDAV)" section in a real browser
(Chromium against ``cardcrm up``): the server address and user name to type into a phone, an
app password made for a named device and shown once, then revoked; screenshots at desktop and
phone sizes in test-artifacts/. And ``/.well-known/caldav`` at the site's root under
``cardcrm up``."""

from __future__ import annotations

import http.client
import uuid
from urllib.parse import urlsplit

import pytest

from .conftest import DEMO_EMAIL

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 800), ("phone", 390, 844)])
def test_making_seeing_and_revoking_an_app_password(
    new_tab, live_server, artifact, name, width, height
):
    tab = new_tab(width, height)
    device = f"Ana's phone {uuid.uuid4().hex[:4]}"
    tab.goto("/settings/calendar")
    section = tab.locator("#caldav-server")
    section.wait_for()
    assert section.inner_text() == "Phone and computer calendars (CalDAV)"
    assert tab.locator("#dav-url").inner_text() == f"{live_server}/calendar/dav/"
    assert tab.locator("#dav-username").inner_text() == DEMO_EMAIL

    tab.get_by_label("Device").fill(device)
    # The page's own POST for its API token may still be on its way (a busy machine): wait for
    # the one that makes the password.
    with tab.expect_response(
        lambda answer: answer.request.method == "POST" and "/app-passwords" in answer.url
    ) as answered:
        tab.get_by_role("button", name="Make an app password").click()
    assert answered.value.status == 201
    shown = tab.locator("#app-password-value")
    shown.wait_for()
    password = shown.input_value()
    assert len(password.replace("-", "")) == 24
    assert device in tab.locator("#app-password-made-text").inner_text()
    listed = tab.locator("#app-passwords li", has_text=device)
    listed.wait_for()
    assert "never used" in listed.inner_text()
    assert password not in tab.locator("#app-passwords").inner_text()
    tab.locator("#app-password-copy").click()
    assert tab.locator("#app-password-copy").inner_text() == "Copied."
    tab.screenshot(path=artifact(f"app-passwords-made-{name}.png"), full_page=True)

    tab.once("dialog", lambda dialog: dialog.accept())
    with tab.expect_response(
        lambda answer: answer.request.method == "DELETE" and "/app-passwords" in answer.url
    ) as revoked:
        listed.get_by_role("button", name="Revoke").click()
    assert revoked.value.status == 204
    tab.locator("#app-passwords li", has_text=device).wait_for(state="detached")
    assert "can no longer sign in" in tab.locator("#app-password-state").inner_text()
    assert not shown.is_visible()  # a revoked password is not left on show
    tab.screenshot(path=artifact(f"app-passwords-revoked-{name}.png"), full_page=True)
    # Made again on reload: the list comes from the server, not the page's memory.
    tab.reload()
    tab.locator("#app-password-state").wait_for(state="attached")
    tab.wait_for_load_state("networkidle")
    assert device not in tab.locator("#app-passwords").inner_text()


@pytest.mark.parametrize("method", ["GET", "PROPFIND"])
def test_well_known_caldav_at_the_root_of_cardcrm_up(live_server, method):
    address = urlsplit(live_server)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request(method, "/.well-known/caldav", headers={"Depth": "0"})
        answer = connection.getresponse()
        assert answer.status == 301
        assert answer.getheader("Location") == f"{live_server}/calendar/dav/"
    finally:
        connection.close()
