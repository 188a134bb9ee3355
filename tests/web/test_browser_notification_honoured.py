"""Notification settings changed in the page at 1280×800 and 390×844, then honoured by the
notifications service (``cardcrm up`` runs it with its worker): status changes switched off
bring nothing, while the due reminder's minutes decide which of two tasks is reminded of.
test_browser_notification_settings.py covers mentions and assignments at desktop size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .test_browser_notification_settings import (
    bearer,
    eventually,
    kept_preferences,
    open_settings,
)

pytestmark = pytest.mark.slow

INBOX = "/notifications/api/v1/inbox"


def utc_in(minutes: int) -> str:
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_status_changes_off_and_a_one_hour_reminder_are_honoured(
    new_tab, artifact, width, height, name
):
    tab = new_tab(width, height)
    demo = bearer(tab)
    me = tab.request.get("/api/v1/me", headers=demo).json()
    email, password = f"mover-{name}@cardcrm.example", "mover-password-123"
    created = tab.request.post(
        "/api/v1/users",
        data={"email": email, "name": f"Mover {name}", "password": password, "is_admin": True},
        headers=demo,
    )
    assert created.status == 201, created.text()
    colleague = bearer(tab, email, password)
    products = tab.request.get("/api/v1/products", headers=demo).json()["items"]
    sales = next(item for item in products if item["name"] == "Sales")
    sales = tab.request.get(f"/api/v1/products/{sales['id']}", headers=demo).json()
    card = tab.request.post(
        f"/api/v1/products/{sales['id']}/cards",
        data={"title": f"Honoured ({name})", "owner_id": me["id"]},
        headers=demo,
    ).json()
    soon, later = f"Due in 30 minutes ({name})", f"Due in 5 hours ({name})"
    for text, minutes in ((soon, 30), (later, 300)):
        task = tab.request.post(
            f"/api/v1/cards/{card['id']}/tasks",
            data={"text": text, "due": utc_in(minutes), "assignee_id": me["id"]},
            headers=demo,
        )
        assert task.status == 201, task.text()

    open_settings(tab)
    tab.get_by_label("a card I own changes status").uncheck()
    tab.get_by_label("someone mentions me in a note").check()
    tab.get_by_label("Due reminders").select_option("60")
    tab.get_by_role("button", name="Save settings").click()
    tab.get_by_text("Saved.", exact=True).wait_for()
    tab.screenshot(path=artifact(f"notification-settings-saved-{name}.png"), full_page=False)

    open_settings(tab)  # shown back, and what the service keeps
    assert not tab.get_by_label("a card I own changes status").is_checked()
    assert tab.get_by_label("Due reminders").input_value() == "60"
    saved = kept_preferences(tab, demo)
    assert saved["status_changes"] is False and saved["due_reminder_minutes"] == 60

    # The colleague moves the admin's card (off: nothing), then mentions the admin (on).
    moved = tab.request.patch(
        f"/api/v1/cards/{card['id']}",
        data={"status_id": sales["statuses"][1]["id"]},
        headers=colleague,
    )
    assert moved.status == 200, moved.text()
    note = tab.request.post(
        f"/api/v1/cards/{card['id']}/notes",
        data={"body": "A look please?", "mentions": [me["id"]]},
        headers=colleague,
    )
    assert note.status == 201, note.text()

    def on_the_card() -> list[dict[str, Any]]:
        items = tab.request.get(INBOX, headers=demo).json()["items"]
        return [item for item in items if item["card_id"] == card["id"]]

    def has(rule: str) -> list[dict[str, Any]]:
        return [item for item in on_the_card() if item["rule"] == rule]

    # The mention and the reminder arriving show the service has handled what came before.
    assert eventually(lambda: has("mentioned"))
    reminders = eventually(lambda: has("due_reminder"))
    assert [item["title"].endswith(soon) for item in reminders] == [True]
    assert has("status_changed") == []  # the move was not notified
    assert [item for item in has("due_reminder") if later in item["title"]] == []

    tab.goto("/")
    tab.locator("#inbox li", has_text=soon).wait_for()
    assert tab.locator("#inbox li", has_text=f"Honoured ({name})").count() >= 1
    tab.locator("#inbox").scroll_into_view_if_needed()
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    tab.screenshot(path=artifact(f"notification-honoured-inbox-{name}.png"), full_page=False)
