"""The page's scripts write dates exactly as the server does (static/dates.js from the patterns,
locale and zone on <html data-dates>), in the user's zone, not the browser's: checked in
Chromium against dates.py for instants around midnight, and on the calendar page."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cardcrm.core.web import dates

from .conftest import DEMO_EMAIL, DEMO_PASSWORD, log_in

pytestmark = pytest.mark.slow

#: The user's zone (their profile) and the browser's own: nine hours apart in December,
#: 17 hours apart: many instants fall on different days in each.
USER_ZONE = "Asia/Tokyo"
BROWSER_ZONE = "America/Los_Angeles"
NAMES = [*dates.DAY_FORMATS, *dates.MOMENT_FORMATS, "day_compact", "moment_compact"]
INSTANTS = [
    "2026-12-05T14:59:59Z",  # 23:59:59 in Tokyo, Saturday
    "2026-12-05T15:00:00Z",  # midnight in Tokyo, Sunday; still Saturday 07:00 in Los Angeles
    "2026-12-31T15:00:00Z",  # the new year begins in Tokyo
    "2027-03-14T10:00:00Z",  # the day Los Angeles moves its clocks
    "2026-07-04T08:05:00+02:00",  # an offset other than Z, a single-digit minute
    "1999-01-09T23:00:00Z",  # another year, a single-digit day
]
DAYS = ["2026-12-06", "2027-01-01", "2026-02-28"]  # all-day deadlines: dates as they are


def with_zone(page: Any, zone: str) -> None:
    answer = page.request.post(
        "/api/v1/auth/token", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert answer.status == 201, answer.text()
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    changed = page.request.patch("/api/v1/me", data={"timezone": zone}, headers=headers)
    assert changed.status == 200, changed.text()


def written_by_the_script(page: Any, values: list[str], names: list[str]) -> list[list[str]]:
    return page.evaluate(
        "([values, names]) => values.map("
        "(value) => names.map((name) => window.cardcrmDates.format(value, name)))",
        [values, names],
    )


def written_by_the_server(value: str, name: str, now: datetime) -> str:
    zone = ZoneInfo(USER_ZONE)
    if name == "day_compact":
        return dates.day_compact(value, now=now, zone=zone, locale="en")
    if name == "moment_compact":
        return dates.moment_compact(value, now=now, zone=zone, locale="en")
    if name in dates.DAY_FORMATS:
        return dates.format_day(value, name, zone=zone, locale="en")
    return dates.format_moment(value, name, zone=zone, locale="en")


@pytest.fixture
def tokyo_page(browser: Any, live_server: str) -> Any:
    """The demo admin, whose profile says Tokyo, in a browser that lives in Los Angeles."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        base_url=live_server,
        timezone_id=BROWSER_ZONE,
        locale="en-US",
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    log_in(tab)
    with_zone(tab, USER_ZONE)
    yield tab
    with_zone(tab, "UTC")
    context.close()


def test_the_script_writes_every_format_as_the_server_does_in_the_users_zone(tokyo_page):
    tokyo_page.goto("/help")
    now = datetime.now(UTC)
    around_now = [
        (now + timedelta(days=shift, hours=hours)).isoformat()
        for shift in (-1, 0, 1)
        for hours in (-10, 0, 10)
    ]
    instants = INSTANTS + around_now
    shown = written_by_the_script(tokyo_page, instants, NAMES)
    expected = [[written_by_the_server(value, name, now) for name in NAMES] for value in instants]
    assert shown == expected
    # the first two are a second apart and on two different days, in Tokyo
    assert shown[0][NAMES.index("moment")] == "Sat 5 Dec 2026, 23:59"
    assert shown[1][NAMES.index("moment")] == "Sun 6 Dec 2026, 00:00"

    day_names = [*dates.DAY_FORMATS, "day_compact"]
    days = DAYS + [(now + timedelta(days=shift)).date().isoformat() for shift in (-1, 0, 1)]
    shown_days = written_by_the_script(tokyo_page, days, day_names)
    assert shown_days == [
        [written_by_the_server(day, name, now) for name in day_names] for day in days
    ]
    assert shown_days[0][0] == "Sun 6 Dec 2026"  # an all-day date is never moved by a zone


def test_the_calendar_page_says_when_the_feed_was_made_as_the_server_would(
    tokyo_page, browser, live_server, artifact
):
    page = tokyo_page
    page.goto("/settings/calendar")
    state = page.locator("#feed-state")
    page.get_by_role("button", name="Make a feed address").click()
    made_at = datetime.now(UTC)
    deadline = time.monotonic() + 10
    while "Copy this address" not in state.inner_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    page.reload()
    deadline = time.monotonic() + 10
    while "made" not in state.inner_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    found = re.search(r"Your feed address, made ([^.]+)\.", state.inner_text())
    assert found, state.inner_text()
    expected = dates.format_day(made_at, "day", zone=ZoneInfo(USER_ZONE), locale="en")
    assert found.group(1) == expected
    page.screenshot(path=artifact("dates-calendar-desktop.png"), full_page=True)

    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        base_url=live_server,
        timezone_id=BROWSER_ZONE,
    )
    tab = phone.new_page()
    log_in(tab)
    tab.goto("/settings/calendar")
    phone_state = tab.locator("#feed-state")
    deadline = time.monotonic() + 10
    while "made" not in phone_state.inner_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert expected in phone_state.inner_text()
    tab.screenshot(path=artifact("dates-calendar-phone.png"), full_page=True)
    phone.close()
