"""Trash and restore in a real browser (Chromium, Playwright) against ``cardcrm up`` with its demo
data, at 1280×800 and 390×844: a card moved to the trash from its page, the message's link to
the product's Trash page, Restore bringing it back to the list with its tasks, and an admin's
"Delete for good" behind its confirmation. Screenshots ``trash-<step>-<size>.png`` land in
test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from .test_browser import api, card_id

pytestmark = pytest.mark.slow

SIZES = [(1280, 800, "desktop"), (390, 844, "phone")]


def new_card_with_a_task(tab: Any, title: str, task: str) -> int:
    """A Sales card with an open task, made through the API as another client would."""
    headers = api(tab)
    products = tab.request.get("/api/v1/products", headers=headers).json()["items"]
    sales = next(item["id"] for item in products if item["name"] == "Sales")
    made = tab.request.post(
        f"/api/v1/products/{sales}/cards", data={"title": title}, headers=headers
    )
    assert made.status == 201, made.text()
    added = tab.request.post(
        f"/api/v1/cards/{made.json()['id']}/tasks",
        data={"text": task, "due": "2030-03-04", "all_day": True},
        headers=headers,
    )
    assert added.status == 201, added.text()
    return made.json()["id"]


def answer_next_question(tab: Any, accept: bool) -> list[str]:
    """Answer the page's next confirm() question (OK or Cancel); returns where it is noted."""
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    tab.once("dialog", answer)
    return asked


@pytest.mark.parametrize("width,height,name", SIZES)
def test_a_card_trashed_from_its_page_is_restored_from_the_trash_with_its_tasks(
    new_tab, artifact, width, height, name
):
    tab = new_tab(width, height)
    title = f"Trash me ({name})"
    task = f"Call back ({name})"
    card = new_card_with_a_task(tab, title, task)
    asked = answer_next_question(tab, accept=True)

    tab.goto(f"/cards/{card}")
    tab.get_by_role("button", name="Move to the trash").click()
    message = tab.locator(".message", has_text="is in the trash")
    message.wait_for()
    assert asked == [f"Move “{title}” to the trash?"]
    assert f"“{title}” is in the trash." in message.inner_text()
    assert tab.locator("#cards").get_by_text(title, exact=True).count() == 0  # gone from the list
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    tab.screenshot(path=artifact(f"trash-trashed-{name}.png"), full_page=False)

    message.get_by_role("link", name="Open the trash").click()
    tab.get_by_role("heading", name="Trash").wait_for()
    row = tab.locator(".trash-list li", has=tab.get_by_role("link", name=title, exact=True))
    assert row.count() == 1
    assert tab.get_by_role("link", name="Trash", exact=True).get_attribute("aria-current") == "page"
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    tab.screenshot(path=artifact(f"trash-list-{name}.png"), full_page=False)

    row.get_by_role("button", name="Restore").click()
    tab.get_by_text("The card is restored, with its tasks and history.").wait_for()
    tab.get_by_role("heading", name=title, level=1).wait_for()
    tab.screenshot(path=artifact(f"trash-restored-{name}.png"), full_page=False)
    restored_task = tab.locator("#tasks li.task", has_text=task)
    assert restored_task.is_visible()  # its task came back
    assert tab.get_by_role("button", name="Move to the trash").is_visible()
    restored_task.scroll_into_view_if_needed()
    tab.screenshot(path=artifact(f"trash-restored-tasks-{name}.png"), full_page=False)

    tab.get_by_role("link", name="Sales", exact=True).first.click()
    listed = tab.locator("#cards").get_by_role("link", name=title, exact=True)
    assert listed.is_visible()  # back in the product's list
    listed.scroll_into_view_if_needed()
    tab.screenshot(path=artifact(f"trash-back-in-list-{name}.png"), full_page=False)
    headers = api(tab)
    assert tab.request.get(f"/api/v1/cards/{card}", headers=headers).json()["trashed"] is False
    tasks = tab.request.get(f"/api/v1/cards/{card}/tasks", headers=headers).json()["items"]
    assert [(item["text"], item["status"]) for item in tasks] == [(task, "open")]
    assert card_id(tab, headers, "Sales", title) == card


@pytest.mark.parametrize("width,height,name", SIZES)
def test_an_admin_deletes_a_trashed_card_for_good_only_after_confirming(
    new_tab, artifact, width, height, name
):
    tab = new_tab(width, height)
    title = f"Delete me for good ({name})"
    card = new_card_with_a_task(tab, title, f"Never mind ({name})")
    headers = api(tab)
    trashed = tab.request.delete(f"/api/v1/cards/{card}", headers=headers)
    assert trashed.status == 204, trashed.text()
    product = tab.request.get(f"/api/v1/cards/{card}", headers=headers).json()["product_id"]

    tab.goto(f"/products/{product}/trash")
    row = tab.locator(".trash-list li", has=tab.get_by_role("link", name=title, exact=True))
    question = f"Delete “{title}” for good, with its tasks and history? This cannot be undone."

    asked = answer_next_question(tab, accept=False)  # "Cancel": nothing happens
    row.get_by_role("button", name="Delete for good").click()
    assert asked == [question]
    assert row.count() == 1
    assert tab.request.get(f"/api/v1/cards/{card}", headers=headers).json()["trashed"] is True
    tab.screenshot(path=artifact(f"trash-before-purge-{name}.png"), full_page=False)

    asked = answer_next_question(tab, accept=True)
    row.get_by_role("button", name="Delete for good").click()
    tab.get_by_text(f"“{title}” is deleted for good, with its tasks and history.").wait_for()
    assert asked == [question]
    assert row.count() == 0
    assert tab.request.get(f"/api/v1/cards/{card}", headers=headers).status == 404
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    tab.screenshot(path=artifact(f"trash-purged-{name}.png"), full_page=False)
