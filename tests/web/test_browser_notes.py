"""Writing a note with an @mention in a real browser (Chromium via Playwright against
``cardcrm up``): the picker offers who may see the card, the keyboard picks, the preview is the
server's, and the author is told when a mention could not be delivered. Skipped unless
CARDCRM_TEST_BROWSER names the browser. Screenshots land in test-artifacts/."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .test_browser import api, card_id

pytestmark = pytest.mark.slow


def make_user(page: Any, headers: dict, name: str) -> dict:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    answer = page.request.post(
        "/api/v1/users",
        data={"email": email, "name": name, "password": "password-12345"},
        headers=headers,
    )
    assert answer.status == 201, answer.text()
    return answer.json()


def set_member(page: Any, headers: dict, product_id: int, user_id: int, member: bool) -> None:
    path = f"/api/v1/products/{product_id}/members"
    items = [
        item
        for item in page.request.get(path, headers=headers).json()["items"]
        if item["user_id"] != user_id
    ]
    if member:
        items.append({"user_id": user_id, "own_cards_only": False})
    assert page.request.put(path, data={"items": items}, headers=headers).status == 200


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_writing_a_note_with_a_mention_picked_from_the_list(new_tab, artifact, width, height, name):
    errors: list[str] = []
    tab = new_tab(width, height)
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else 0)
    headers = api(tab)
    suffix = uuid.uuid4().hex[:4]
    stefan = make_user(tab, headers, f"Ștefan Ionescu {suffix}")
    make_user(tab, headers, f"Stela Outsider {suffix}")  # may not see the card: not offered
    products = tab.request.get("/api/v1/products", headers=headers).json()["items"]
    projects = next(item for item in products if item["name"] == "Projects")
    set_member(tab, headers, projects["id"], stefan["id"], True)
    card = card_id(tab, headers, "Projects", "Website relaunch")

    tab.goto(f"/cards/{card}")
    body = tab.get_by_label("New note")
    body.click()
    body.press_sequentially("Budget agreed, **10k**. @stef")
    picker = tab.get_by_role("listbox", name="People who may see this card")
    picker.wait_for()
    options = picker.get_by_role("option")
    assert options.count() == 1  # the outsider is not offered
    assert stefan["name"] in options.first.inner_text()
    tab.screenshot(path=artifact(f"notes-picker-{name}.png"), full_page=False, caret="initial")
    body.press("Escape")
    assert picker.is_hidden()
    body.press_sequentially("a")  # typing on opens it again
    picker.wait_for()
    body.press("Enter")
    assert picker.is_hidden()
    assert body.input_value() == f"Budget agreed, **10k**. @{stefan['name']} "
    body.press_sequentially(f"please send the offer {suffix}.")

    tab.get_by_role("tab", name="Preview").click()
    preview = tab.locator("#note-preview")
    preview.locator("strong", has_text="10k").wait_for()
    assert "**" not in preview.inner_text()
    tab.get_by_role("tab", name="Write").click()

    tab.get_by_role("button", name="Save the note").click()
    tab.locator(".note .note-html", has_text=f"please send the offer {suffix}").wait_for()
    assert tab.get_by_label("New note").input_value() == ""  # the composer is cleared
    notes = tab.request.get(f"/api/v1/cards/{card}/notes", headers=headers).json()["items"]
    assert notes[0]["mentions"] == [stefan["id"]]
    assert notes[0]["body"].endswith(f"please send the offer {suffix}.")
    tab.screenshot(path=artifact(f"notes-saved-{name}.png"), full_page=True, caret="initial")

    # Picked, then removed from the product before the note is saved: the author is told.
    body = tab.get_by_label("New note")
    body.click()
    body.press_sequentially("@ste")
    picker.get_by_role("option").first.wait_for()
    body.press("Tab")
    set_member(tab, headers, projects["id"], stefan["id"], False)
    tab.get_by_role("button", name="Save the note").click()
    message = tab.locator(".notes-not-notified")
    message.wait_for()
    assert stefan["name"] in message.inner_text()
    assert "not a member" in message.inner_text()
    tab.screenshot(
        path=artifact(f"notes-not-notified-{name}.png"), full_page=False, caret="initial"
    )
    if name == "phone":  # nothing wider than the screen
        assert tab.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == [], errors  # no CSP violation, no failed script
