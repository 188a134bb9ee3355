"""The notification settings page in a real browser against ``cardcrm up`` (core and the
notifications service with its worker): settings saved, shown back, read back through the
notifications API, and honoured; the inbox's empty state. Screenshots in test-artifacts/."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import DEMO_EMAIL, DEMO_PASSWORD, log_in

pytestmark = pytest.mark.slow

SETTINGS = "/settings/notifications"
PREFERENCES = "/notifications/api/v1/preferences"
COLLEAGUE = "colleague@cardcrm.example"
COLLEAGUE_PASSWORD = "colleague-password-123"


def bearer(page: Any, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> dict[str, str]:
    answer = page.request.post("/api/v1/auth/token", data={"email": email, "password": password})
    assert answer.status == 201, answer.text()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def kept_preferences(page: Any, headers: dict[str, str]) -> dict[str, Any]:
    """What the notifications service keeps for the caller (its answer shown if not a 200)."""
    answer = page.request.get(PREFERENCES, headers=headers)
    assert answer.status == 200, answer.text()
    preferences: dict[str, Any] = answer.json()
    return preferences


def open_settings(tab: Any) -> None:
    tab.goto(SETTINGS)
    tab.locator("#notification-form[aria-busy='false']").wait_for()


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_settings_are_saved_shown_back_read_through_the_api_and_honoured(page, artifact):
    demo = bearer(page)
    # A fresh server: nothing happened yet, and the panel says what would be notified.
    empty = page.locator("#inbox .inbox-empty")
    empty.get_by_role("link", name="settings").wait_for()
    assert "someone mentions you in a note" in empty.inner_text()
    assert "before your tasks are due" not in empty.inner_text()  # reminders are off
    page.screenshot(path=artifact("notifications-empty-inbox-desktop.png"), full_page=True)
    page.get_by_role("link", name="Notification settings").click()
    page.wait_for_url(f"**{SETTINGS}")
    page.locator("#notification-form[aria-busy='false']").wait_for()

    # The defaults as the API has them: every event rule on, reminders and digest off.
    assert page.get_by_label("someone mentions me in a note").is_checked()
    assert page.get_by_label("someone assigns a task to me").is_checked()
    assert page.get_by_label("Due reminders").input_value() == ""
    assert not page.get_by_label("A daily digest").is_checked()

    # A bad value is refused beside its field, and nothing is saved.
    page.get_by_label("URL").fill("ftp://hooks.example.com/cardcrm")
    page.get_by_role("button", name="Save settings").click()
    error = page.locator("#error-webhook_url")
    error.wait_for()
    assert "http" in error.inner_text()
    assert page.get_by_label("URL").get_attribute("aria-invalid") == "true"
    assert kept_preferences(page, demo)["webhook_url"] is None

    page.get_by_label("URL").fill("")
    page.get_by_label("someone mentions me in a note").uncheck()
    page.get_by_label("someone assigns a task to me").uncheck()
    page.get_by_label("Due reminders").select_option("30")
    page.get_by_label("A daily digest").check()
    page.get_by_label("Daily digest time").fill("07:30")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Saved.", exact=True).wait_for()
    assert error.is_hidden()

    open_settings(page)  # shown back when reopened
    assert not page.get_by_label("someone mentions me in a note").is_checked()
    assert not page.get_by_label("someone assigns a task to me").is_checked()
    assert page.get_by_label("a card I own changes status").is_checked()
    assert page.get_by_label("Due reminders").input_value() == "30"
    assert page.get_by_label("Daily digest time").input_value() == "07:30"

    saved = kept_preferences(page, demo)
    assert saved["mentioned"] is False and saved["assigned"] is False
    assert saved["status_changes"] is True
    assert saved["due_reminder_minutes"] == 30 and saved["daily_digest_at"] == "07:30"

    # Honoured: a colleague mentions the demo admin in a note and assigns them a task (both
    # off: nothing), then moves a card the admin owns (on: an inbox item).
    created = page.request.post(
        "/api/v1/users",
        data={
            "email": COLLEAGUE,
            "name": "Colleague",
            "password": COLLEAGUE_PASSWORD,
            "is_admin": True,
        },
        headers=demo,
    )
    assert created.status == 201, created.text()
    colleague = bearer(page, COLLEAGUE, COLLEAGUE_PASSWORD)
    me = page.request.get("/api/v1/me", headers=demo).json()
    products = page.request.get("/api/v1/products", headers=demo).json()["items"]
    product = next(item for item in products if item["name"] == "Sales")
    product = page.request.get(f"/api/v1/products/{product['id']}", headers=demo).json()
    card = page.request.post(
        f"/api/v1/products/{product['id']}/cards",
        data={"title": "Settings honoured", "owner_id": me["id"]},
        headers=demo,
    ).json()
    task = page.request.post(
        f"/api/v1/cards/{card['id']}/tasks",
        data={"text": "Not told", "due": "2030-01-01T09:00:00Z", "assignee_id": me["id"]},
        headers=colleague,
    )
    assert task.status == 201, task.text()
    note = page.request.post(
        f"/api/v1/cards/{card['id']}/notes",
        data={"body": "Demo, a look please?", "mentions": [me["id"]]},
        headers=colleague,
    )
    assert note.status == 201, note.text()
    assert note.json()["mentions"] == [me["id"]]
    moved = page.request.patch(
        f"/api/v1/cards/{card['id']}",
        data={"status_id": product["statuses"][1]["id"]},
        headers=colleague,
    )
    assert moved.status == 200, moved.text()

    def inbox() -> list[dict[str, Any]]:
        return page.request.get("/notifications/api/v1/inbox", headers=demo).json()["items"]

    items = eventually(lambda: [item for item in inbox() if item["rule"] == "status_changed"])
    assert [item["card_id"] for item in items] == [card["id"]]
    assert [item for item in inbox() if item["rule"] in ("assigned", "mentioned")] == []

    # Mentions switched back on in the page: the next mention is in the inbox.
    open_settings(page)
    page.get_by_label("someone mentions me in a note").check()
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Saved.", exact=True).wait_for()
    again = page.request.post(
        f"/api/v1/cards/{card['id']}/notes",
        data={"body": "Demo, **now** a look please?", "mentions": [me["id"]]},
        headers=colleague,
    )
    assert again.status == 201, again.text()
    mentioned = eventually(lambda: [item for item in inbox() if item["rule"] == "mentioned"])
    assert [item["title"] for item in mentioned] == [
        "Colleague mentioned you on “Settings honoured”"
    ]
    page.goto("/")
    page.locator("#inbox li", has_text="Colleague mentioned you").wait_for()
    page.screenshot(path=artifact("notifications-inbox-mention-desktop.png"), full_page=True)


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_screenshots_of_the_notification_settings(
    browser, live_server, artifact, width, height, name
):
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server)
    context.set_default_timeout(10_000)
    errors: list[str] = []
    try:
        tab = context.new_page()
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else 0)
        log_in(tab)
        open_settings(tab)
        tab.screenshot(path=artifact(f"notification-settings-{name}.png"), full_page=True)
        tab.get_by_label("URL").fill("not a web address")
        tab.get_by_role("button", name="Save settings").click()
        tab.locator("#error-webhook_url").wait_for()
        tab.locator("#webhook-url").scroll_into_view_if_needed()
        tab.screenshot(path=artifact(f"notification-settings-error-{name}.png"))
        if name == "phone":
            assert tab.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()
    # the refused save is logged by the browser as a failed load; nothing else may fail
    assert [error for error in errors if "422" not in error] == []
