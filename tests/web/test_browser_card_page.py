"""The card page in a real browser (Chromium against ``cardcrm up`` with its demo data): the
contacts panel (picker, a new contact in place, removal) and the timeline that follows every
action without a reload; screenshots at desktop and phone sizes in test-artifacts/."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from .test_browser import DEMO_ZONE, api, card_id

pytestmark = pytest.mark.slow


def open_card(tab: Any, title: str, product: str = "Sales") -> int:
    card = card_id(tab, api(tab), product, title)
    tab.goto(f"/cards/{card}")
    tab.get_by_role("heading", name=title).wait_for()
    # A marker that a full reload would wipe: the story must happen without one.
    tab.evaluate("window.stillTheSamePage = true")
    return card


def same_page(tab: Any) -> bool:
    return bool(tab.evaluate("window.stillTheSamePage === true"))


def new_contact(tab: Any, name: str, **body: Any) -> dict:
    answer = tab.request.post("/api/v1/contacts", data={"name": name, **body}, headers=api(tab))
    assert answer.status == 201, answer.text()
    return answer.json()


def test_linking_an_existing_contact_with_the_picker(page):
    marker = uuid.uuid4().hex[:6]
    new_contact(page, f"Ștefan Georgescu {marker}", emails=[f"stefan.{marker}@example.com"])
    open_card(page, "Initech pilot")
    contacts = page.locator("#contacts")
    picker = page.get_by_role("combobox", name="Link a contact")
    picker.press_sequentially(f"stefan georgescu {marker}", delay=20)  # no accent typed
    option = page.get_by_role("option", name=f"Ștefan Georgescu {marker}")
    option.wait_for()
    picker.press("ArrowDown")
    assert option.get_attribute("aria-selected") == "true"
    picker.press("Enter")
    contacts.locator(".contact-line", has_text=f"Ștefan Georgescu {marker}").wait_for()
    assert (
        contacts.get_by_role("link", name=f"stefan.{marker}@example.com").get_attribute("href")
        == f"mailto:stefan.{marker}@example.com"
    )
    # The timeline says so at once, by name.
    page.locator("#timeline .tl-item", has_text=f"Ștefan Georgescu {marker}").first.wait_for()
    assert same_page(page)
    # The details form took the card's new version: saving it is no "someone else changed it".
    page.get_by_label("Title", exact=True).fill("Initech pilot")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("The card is saved.").wait_for()


def test_creating_a_contact_in_place_then_a_duplicate_links_the_existing_one(page):
    marker = uuid.uuid4().hex[:6]
    open_card(page, "Globex renewal")
    page.get_by_text("Create a new contact").click()
    page.get_by_label("Name", exact=True).fill(f"Maria Pop {marker}")
    page.get_by_label("E-mail", exact=True).fill(f"maria.{marker}@example.com")
    page.get_by_label("Phone", exact=True).fill("+40 721 555 010")
    page.get_by_role("button", name="Create and link").click()
    page.locator("#contacts .contact-line", has_text=f"Maria Pop {marker}").wait_for()
    assert page.locator("#contacts .primary-badge").count() == 1
    assert same_page(page)

    open_card(page, "Umbrella upsell")
    page.get_by_text("Create a new contact").click()
    page.get_by_label("Name", exact=True).fill(f"M. Pop {marker}")
    page.get_by_label("E-mail", exact=True).fill(f"maria.{marker}@example.com")
    page.get_by_role("button", name="Create and link").click()
    page.get_by_text("exists already").wait_for()
    assert page.get_by_label("Name", exact=True).input_value() == f"M. Pop {marker}"
    page.get_by_role("button", name=f"Link Maria Pop {marker}").click()
    page.locator("#contacts .contact-line", has_text=f"Maria Pop {marker}").wait_for()
    assert same_page(page)


def test_removing_a_contact(page):
    marker = uuid.uuid4().hex[:6]
    contact = new_contact(page, f"Ion Remove {marker}")
    card = card_id(page, api(page), "Sales", "ACME Corp")
    current = page.request.get(f"/api/v1/cards/{card}", headers=api(page)).json()
    page.request.patch(
        f"/api/v1/cards/{card}",
        data={"contact_ids": [*current["contact_ids"], contact["id"]]},
        headers=api(page),
    )
    open_card(page, "ACME Corp: 20 licences")
    line = page.locator("#contacts .contact-line", has_text=f"Ion Remove {marker}")
    line.get_by_role("button", name=f"Remove Ion Remove {marker} from the card").click()
    line.wait_for(state="detached")
    page.get_by_text(f"Ion Remove {marker} is no longer on the card.").wait_for()
    assert same_page(page)


def test_adding_a_task_shows_in_the_timeline_without_a_reload(page):
    open_card(page, "Website relaunch", product="Projects")
    text = f"Call the designer {uuid.uuid4().hex[:6]}"
    page.get_by_label("What to do").fill(text)
    tomorrow = (datetime.now(DEMO_ZONE) + timedelta(days=1)).date().isoformat()
    page.get_by_label("Date", exact=True).fill(tomorrow)
    page.get_by_role("button", name="Add the task").click()
    item = page.locator("#timeline .tl-item", has_text=f"added the task “{text}”")
    item.wait_for()
    assert page.locator("#timeline .tl-item").first.inner_text() == item.inner_text()
    assert same_page(page)
    # Closing it is in the timeline too.
    page.get_by_role("button", name=f"Done: {text}").click()
    page.locator("#timeline .tl-item", has_text=f"closed “{text}” as done").wait_for()
    assert same_page(page)


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_screenshots_of_the_card_page(new_tab, artifact, width, height, name):
    errors: list[str] = []
    tab = new_tab(width, height)
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else 0)
    marker = uuid.uuid4().hex[:4]
    headers = api(tab)
    card = card_id(tab, headers, "Sales", "ACME Corp")
    company = new_contact(tab, f"ACME Corp {marker}", kind="company")
    ana = new_contact(
        tab,
        f"Ana Ionescu {marker}",
        emails=[f"ana.{marker}@acme.example"],
        phones=[f"+40 721 {uuid.uuid4().int % 1_000_000:06d}"],
        company_id=company["id"],
        position="Buyer",
    )
    ion = new_contact(tab, f"Ion Pop {marker}", emails=[f"ion.{marker}@acme.example"])
    tab.request.patch(
        f"/api/v1/cards/{card}",
        data={"contact_id": ana["id"], "contact_ids": [ion["id"]]},
        headers=headers,
    )
    tab.goto(f"/cards/{card}")
    tab.locator("#timeline .tl-item").first.wait_for()
    tab.screenshot(path=artifact(f"card-page-{name}.png"), full_page=True)
    if name == "phone":
        assert tab.evaluate("document.documentElement.scrollWidth") <= width
    else:  # two columns: the contacts beside the details
        details = tab.locator("#card-edit").bounding_box()
        contacts = tab.locator("#card-contacts").bounding_box()
        assert contacts["x"] > details["x"] + 300 and abs(contacts["y"] - details["y"]) < 40
    assert errors == []
