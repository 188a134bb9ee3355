"""The card page's timeline panel: newest first with who and when, a kind filter, "Show
older" pages, and a reload after every action on the page (the card-changed event)."""

from __future__ import annotations

import re
from typing import Any

import pytest

ITEM_ID = re.compile(r'<li class="tl-item tl-(\w+)" id="tl-([\w-]+)"')


@pytest.fixture
def deal(admin: Any) -> dict:
    return admin.card(admin.product("sales", name="Sales"), "ACME deal")


def item_ids(html: str) -> list[str]:
    return [match.group(2) for match in ITEM_ID.finditer(html)]


def add_task(web: Any, card: dict, text: str) -> Any:
    form = {"text": text, "due_date": "2030-01-07", "due_time": "09:30", "type": "call"}
    return web.htmx(f"/cards/{card['id']}/tasks", form)


def test_the_card_page_shows_the_timeline_newest_first_with_who_and_when(admin_web, admin, deal):
    admin.task(deal, "2030-01-07T09:30:00Z", text="Call ACME")
    admin.ok("PATCH", f"cards/{deal['id']}", {"title": "ACME big deal"})
    page = admin_web.get(f"/cards/{deal['id']}").get_data(as_text=True)
    panel = page[page.index('id="timeline"') :]
    assert 'hx-trigger="card-changed from:body"' in page
    assert [kind for kind, _ in ITEM_ID.findall(panel)] == ["history", "task", "history"]
    first, second, third = (
        panel.index("changed title"),
        panel.index("added the task “Call ACME”"),
        panel.index("created the card"),
    )
    assert first < second < third
    assert '<span class="who">Admin</span>' in panel
    for label in ("All", "Notes", "E-mails", "Files", "Tasks", "History"):
        assert f">{label}</a>" in panel
    assert "timeline.js" in page


def test_adding_a_task_says_card_changed_and_the_reloaded_timeline_shows_it(admin_web, deal):
    before = admin_web.get(f"/cards/{deal['id']}/timeline").get_data(as_text=True)
    assert "Call back Monday" not in before
    added = add_task(admin_web, deal, "Call back Monday")
    assert added.status_code == 200 and added.headers["HX-Trigger"] == "card-changed"
    # What the panel fetches when the event reaches it:
    after = admin_web.client.get(
        f"/cards/{deal['id']}/timeline", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert item_ids(after)[0].startswith("task-") and "added the task “Call back Monday”" in after


def test_closing_and_postponing_a_task_on_the_card_say_card_changed(admin_web, admin, deal):
    task = admin.task(deal, "2030-01-07T09:30:00Z", text="Send the offer")
    postponed = admin_web.htmx(f"/tasks/{task['id']}/postpone", {"view": "card", "when": "day"})
    assert postponed.headers["HX-Trigger"] == "card-changed"
    closed = admin_web.htmx(f"/tasks/{task['id']}/close", {"view": "card"})
    assert closed.headers["HX-Trigger"] == "card-changed"
    panel = admin_web.get(f"/cards/{deal['id']}/timeline").get_data(as_text=True)
    assert "closed “Send the offer” as done" in panel and "postponed “Send the offer”" in panel
    refused = admin_web.htmx(f"/tasks/{task['id']}/postpone", {"view": "card", "when": "?"})
    assert "HX-Trigger" not in refused.headers


def test_the_kind_filter_keeps_one_kind(admin_web, admin, deal):
    admin.task(deal, "2030-01-07T09:30:00Z", text="Call ACME")
    tasks = admin_web.get(f"/cards/{deal['id']}/timeline?kind=task").get_data(as_text=True)
    assert [item.split("-")[0] for item in item_ids(tasks)] == ["task"]
    assert 'aria-current="true"' in tasks and f"/cards/{deal['id']}/timeline?kind=task" in tasks
    history = admin_web.get(f"/cards/{deal['id']}?kind=history").get_data(as_text=True)
    assert {item.split("-")[0] for item in item_ids(history)} == {"history"}
    assert "Nothing of this kind yet." in admin_web.get(
        f"/cards/{deal['id']}/timeline?kind=email"
    ).get_data(as_text=True)
    # An unknown kind shows everything rather than an error page.
    assert (
        len(item_ids(admin_web.get(f"/cards/{deal['id']}?kind=bogus").get_data(as_text=True))) == 2
    )


def test_show_older_pages_through_everything_once(admin_web, admin, deal):
    for number in range(30):
        admin.ok("PATCH", f"cards/{deal['id']}", {"title": f"ACME {number}"})
    page = admin_web.get(f"/cards/{deal['id']}").get_data(as_text=True)
    seen = item_ids(page)
    assert len(seen) == 25 and "Show older" in page
    older = re.search(r'hx-get="(/cards/\d+/timeline\?cursor=[^"]+)"', page)
    assert older
    rest = admin_web.client.get(
        older.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert 'id="timeline"' not in rest  # only the older items, appended in place
    seen += item_ids(rest)
    assert len(seen) == len(set(seen)) == 31 and "Show older" not in rest
    # Without JavaScript the link opens the card page at the older items.
    link = re.search(r'href="(/cards/\d+\?cursor=[^"#]+)#timeline"', page)
    assert link
    plain = admin_web.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert item_ids(plain) == item_ids(rest)


def test_a_note_is_shown_in_the_timeline_by_the_notes_template(admin_web, admin, deal):
    note = admin.ok(
        "POST", f"cards/{deal['id']}/notes", {"body": "<script>x</script> Call **Ana**"}, status=201
    )
    page = admin_web.get(f"/cards/{deal['id']}/timeline").get_data(as_text=True)
    assert item_ids(page)[0] == f"note-{note['id']}"
    assert f'<article class="note" id="note-{note["id"]}"' in page
    assert "<strong>Ana</strong>" in page and "<script>x" not in page


def test_the_panel_follows_the_cards_access_rules(member_web, deal):
    assert member_web.get(f"/cards/{deal['id']}/timeline").status_code == 404


def test_contact_changes_read_with_the_contacts_names(admin_web, admin, deal):
    ana = admin.ok("POST", "contacts", {"name": "Ana Ionescu"}, status=201)
    ion = admin.ok("POST", "contacts", {"name": "Ion Pop"}, status=201)
    admin.ok("PATCH", f"cards/{deal['id']}", {"contact_id": ana["id"], "contact_ids": [ion["id"]]})
    panel = admin_web.get(f"/cards/{deal['id']}/timeline").get_data(as_text=True)
    assert "primary contact from (empty) to “Ana Ionescu”" in panel
    assert "other contacts from (empty) to Ion Pop" in panel
