"""The Today page through Flask's test client: the period's shortcuts and arrows, overdue as
"its deadline has passed", each total opening its list, and the row's menu of actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest

# Wednesday 2 December 2026, noon UTC (the test users' zone): this week is 30 Nov – 6 Dec.
NOW = datetime.fromisoformat("2026-12-02T12:00:00Z")


@pytest.fixture
def clock(app):
    app.config["CLOCK"] = lambda: NOW
    yield NOW
    app.config.pop("CLOCK", None)


@pytest.fixture
def card(admin):
    return admin.card(admin.product("sales", name="Sales"), "ACME deal")


def page(web, query=""):
    answer = web.get(f"/{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:800]
    return unescape(answer.get_data(as_text=True))


def rows(html):
    """(text, state) of each task row, in page order."""
    found = re.findall(
        r'<li id="task-\d+" class="task[^"]*" data-state="(\w+)">.*?class="task-text">([^<]*)<',
        html,
        re.S,
    )
    return [(text, state) for state, text in found]


def totals(html):
    found = re.findall(r'data-total="(\w+)">\s*<dt>\w+</dt>\s*<dd><a [^>]*>(\d+)</a></dd>', html)
    return {key: int(value) for key, value in found}


def test_the_shortcuts_name_the_periods_and_the_current_one_is_marked(admin_web, clock):
    html = page(admin_web, "?from=2026-11-30&to=2026-12-06")
    shortcuts = dict(
        re.findall(
            r'<a href="/\?from=([\d-]+&to=[\d-]+)"(?: aria-current="page")?>([^<]+)</a>', html
        )
    )
    assert shortcuts == {
        "2026-12-02&to=2026-12-02": "Today",
        "2026-12-03&to=2026-12-03": "Tomorrow",
        "2026-11-30&to=2026-12-06": "This week",
        "2026-12-07&to=2026-12-13": "Next week",
        "2026-12-01&to=2026-12-31": "This month",
    }
    assert re.search(r'aria-current="page">This week</a>', html)
    assert 'class="today-kicker">This week<' in html


@pytest.mark.parametrize(
    ("shown", "earlier", "later"),
    [
        ("2026-11-30&to=2026-12-06", "2026-11-23&to=2026-11-29", "2026-12-07&to=2026-12-13"),
        ("2026-12-02&to=2026-12-02", "2026-12-01&to=2026-12-01", "2026-12-03&to=2026-12-03"),
        ("2026-12-01&to=2026-12-31", "2026-11-01&to=2026-11-30", "2027-01-01&to=2027-01-31"),
        ("2026-12-01&to=2026-12-03", "2026-11-28&to=2026-11-30", "2026-12-04&to=2026-12-06"),
    ],
)
def test_the_arrows_shift_by_the_periods_length(admin_web, clock, shown, earlier, later):
    html = page(admin_web, f"?from={shown}")
    assert re.search(
        rf'class="period-step" href="/\?from={earlier}"[^>]*aria-label="Previous', html
    )
    assert re.search(rf'class="period-step" href="/\?from={later}"[^>]*aria-label="Next', html)


def test_next_week_does_not_call_tomorrows_task_overdue_and_this_week_shows_yesterdays(
    admin, admin_web, card, clock
):
    admin.task(card, "2026-12-03T10:00:00Z", "Send the offer")  # tomorrow
    admin.task(card, "2026-12-01T09:00:00Z", "Call ACME")  # yesterday
    admin.task(card, "2026-12-08T09:00:00Z", "Demo")  # next Tuesday
    next_week = page(admin_web, "?from=2026-12-07&to=2026-12-13")
    assert rows(next_week) == [("Call ACME", "overdue"), ("Demo", "due")]
    assert (totals(next_week)["overdue"], totals(next_week)["due"]) == (1, 1)
    this_week = page(admin_web, "?from=2026-11-30&to=2026-12-06")
    assert rows(this_week) == [("Call ACME", "overdue"), ("Send the offer", "due")]
    assert re.search(
        r'data-state="overdue">.*?<span class="badge overdue">Overdue</span>', this_week, re.S
    )


def test_each_total_links_to_its_list_and_closed_tasks_stay_visible(admin, admin_web, card):
    task = admin.task(card, datetime.now(UTC).strftime("%Y-%m-%dT23:59:00Z"), "Call ACME")
    admin.task(card, datetime.now(UTC).strftime("%Y-%m-%dT23:59:00Z"), "Still to do")
    html = page(admin_web)
    for key in ("due", "overdue", "closed", "postponed"):
        assert re.search(rf'href="/\?from=[\d-]+&to=[\d-]+&show={key}" aria-label="\w+: \d+"', html)
    answer = admin_web.htmx(f"/tasks/{task['id']}/close", {"view": "today"})
    assert 'data-state="closed"' in answer.get_data(as_text=True)
    # Reloaded, the usual list has only the open task; the Closed total's list has the done one.
    assert [text for text, _ in rows(page(admin_web))] == ["Still to do"]
    closed = page(admin_web, "?show=closed")
    assert rows(closed) == [("Call ACME", "closed")]
    assert "Closed in this period" in closed and ">Reopen<" in closed
    assert re.search(
        r'data-total="closed">\s*<dt>Closed</dt>\s*<dd><a [^>]*aria-current="page"', closed
    )
    answer = admin_web.htmx(f"/tasks/{task['id']}/reopen", {"view": "today", "show": "closed"})
    assert rows(unescape(answer.get_data(as_text=True)))[0][1] in ("due", "overdue")
    assert admin.ok("GET", f"tasks/{task['id']}")["status"] == "open"


def test_postponed_tasks_stay_visible_in_their_list(admin, admin_web, card):
    task = admin.task(card, datetime.now(UTC).strftime("%Y-%m-%dT23:59:00Z"), "Call ACME")
    admin_web.htmx(f"/tasks/{task['id']}/postpone", {"view": "today", "when": "monday"})
    assert rows(page(admin_web)) == []
    assert rows(page(admin_web, "?show=postponed")) == [("Call ACME", "postponed")]


def test_an_unknown_list_is_refused_in_words(admin_web):
    answer = admin_web.get("/?show=everything")
    assert answer.status_code == 422
    assert "There is no such list" in answer.get_data(as_text=True)


def test_a_rows_secondary_actions_sit_in_one_menu(admin, admin_web, card, clock):
    admin.task(card, "2026-12-02T15:00:00Z", "Call ACME")
    html = page(admin_web)
    row = re.search(r'<li id="task-\d+".*?</li>', html, re.S).group(0)
    # Tab stops: the card's link, Done, and the menu's toggle; the rest is inside the menu.
    outside = re.sub(r"<details.*?</details>", "", row, flags=re.S)
    assert len(re.findall(r"<a |<button |<summary ", outside)) == 2
    menu = re.search(r"<details.*?</details>", row, re.S).group(0)
    for label in ("+1 day", "Next Monday", "Postpone", "Cancel the task"):
        assert f">{label}</button>" in menu
    assert 'aria-controls="task-' in menu


def test_cancelling_from_the_menu_cancels_the_task(admin, admin_web, card, clock):
    task = admin.task(card, "2026-12-02T15:00:00Z", "Call ACME")
    answer = admin_web.htmx(f"/tasks/{task['id']}/close", {"view": "today", "outcome": "cancelled"})
    assert ">Cancelled<" in answer.get_data(as_text=True)
    assert admin.ok("GET", f"tasks/{task['id']}")["status"] == "cancelled"


def test_show_more_keeps_to_the_list_shown(admin, admin_web, card, monkeypatch):
    from cardcrm.core.web import today

    monkeypatch.setattr(today, "TASK_PAGE", 1)
    for hour in (1, 2):
        task = admin.task(card, f"2026-12-0{hour}T09:00:00Z", f"Task {hour}")
        admin.ok("POST", f"tasks/{task['id']}/close", {})
    html = page(admin_web, "?show=closed")
    more = re.search(r'class="more" id="more-tasks">\s*<a href="([^"]+)"', html).group(1)
    assert "show=closed" in more
    answer = admin_web.client.get(more, headers={"HX-Request": "true"})
    assert rows(unescape(answer.get_data(as_text=True)))[0][1] == "closed"
