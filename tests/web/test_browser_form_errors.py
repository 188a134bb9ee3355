"""A refused form in a real browser (Chromium against ``cardcrm up``): the "New card" form comes
back with each message beside its field, what was typed kept, and the first invalid field
focused; screenshots at desktop and phone sizes in test-artifacts/."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .test_browser import api

pytestmark = pytest.mark.slow


def hiring_product(tab: Any) -> dict:
    """A recruiting product: its cards need a Position, asked for in the "New card" form."""
    name = f"Hiring {uuid.uuid4().hex[:6]}"
    answer = tab.request.post(
        "/api/v1/products", data={"name": name, "template": "recruiting"}, headers=api(tab)
    )
    assert answer.status == 201, answer.text()
    return answer.json()


def refuse_a_new_card(tab: Any, product: dict) -> Any:
    tab.goto(f"/products/{product['id']}")
    form = tab.locator("#new-card-form form")
    # Spaces pass the browser's own "required" check; the server sees an empty title.
    form.get_by_label("Title").fill("   ")
    form.get_by_label("Status").select_option(label=product["statuses"][1]["name"])
    form.get_by_label("Position").fill("  ")
    with tab.expect_response(lambda answer: answer.request.method == "POST") as answered:
        form.get_by_role("button", name="Create the card").click()
    assert answered.value.status == 422
    return tab.locator("#new-card-form form")


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 800), ("phone", 390, 844)])
def test_a_refused_new_card_shows_each_message_beside_its_field(
    new_tab, artifact, name, width, height
):
    tab = new_tab(width, height)
    product = hiring_product(tab)
    form = refuse_a_new_card(tab, product)

    title = form.get_by_label("Title")
    assert title.get_attribute("aria-invalid") == "true"
    assert form.locator("#error-title").inner_text() == "Give the card a title."
    assert form.locator("#error-fields-position").inner_text() == "Fill in Position."
    # The first invalid field has the focus, so typing fixes it at once.
    assert tab.evaluate("document.activeElement && document.activeElement.id") == "card-title"
    # What was chosen is kept.
    status = form.get_by_label("Status")
    assert (
        status.evaluate("select => select.selectedOptions[0].text")
        == (product["statuses"][1]["name"])
    )
    assert tab.locator(".message.error").count() == 0  # nothing at the top of the page
    tab.screenshot(path=artifact(f"form-error-new-card-{name}.png"), caret="initial")

    tab.keyboard.type("Ana Popescu")
    form.get_by_label("Position").fill("Backend engineer")
    form.get_by_role("button", name="Create the card").click()
    tab.get_by_role("heading", name="Ana Popescu").wait_for()


def test_a_refused_calendar_connection_names_the_field_beside_it(page):
    page.goto("/settings/calendar")
    form = page.locator("#caldav-form")
    # ftp:// passes the browser's url check; the calendar service wants http or https.
    form.get_by_label("Server address (CalDAV URL)").fill("ftp://cloud.example.com/dav")
    form.get_by_label("User name").fill("ana")
    form.get_by_label("App password").fill("app-password")
    form.get_by_role("button").click()
    message = form.locator("#error-caldav-url")
    message.wait_for()
    assert message.inner_text() != ""
    url = form.get_by_label("Server address (CalDAV URL)")
    assert url.get_attribute("aria-describedby") == "error-caldav-url"
    assert page.evaluate("document.activeElement.id") == "caldav-url"
    assert form.get_by_label("User name").input_value() == "ana"  # what was typed is kept
    assert "url:" not in form.locator("#caldav-state").inner_text()  # not said twice


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 800), ("phone", 390, 844)])
def test_a_refused_status_name_shows_under_that_status_row(new_tab, artifact, name, width, height):
    tab = new_tab(width, height)
    product = hiring_product(tab)
    status = product["statuses"][1]
    tab.goto(f"/products/{product['id']}/settings")
    tab.locator(f"#status-name-{status['id']}").fill(" ")
    row = tab.locator(f"#status-name-{status['id']}").locator("xpath=ancestor::form")
    row.get_by_role("button", name="Save").click()
    message = tab.locator("#error-name")
    message.wait_for()
    assert message.inner_text() == "Give the status a name."
    assert tab.evaluate("document.activeElement.id") == f"status-name-{status['id']}"
    tab.screenshot(path=artifact(f"form-error-settings-{name}.png"), caret="initial")
