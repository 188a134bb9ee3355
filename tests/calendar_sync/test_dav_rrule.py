"""Recurring tasks through cardcrm's CalDAV server (issue 19): a GET shows the series' RRULE,
and an app PUTting it back untouched completes the occurrence, where a changed rule is
refused with its precondition."""

from __future__ import annotations

from typing import Any

import pytest
from cardcrm.calendar_sync.dav import views
from icalendar import Calendar

from .dav_helpers import Dav, dav_user


@pytest.fixture
def dav(calendar: Any, member: Any, monkeypatch: pytest.MonkeyPatch) -> Dav:
    """The member, as the DAV auth would say (as ``test_dav_protocol.py`` signs in)."""
    user = dav_user(member)
    monkeypatch.setattr(views, "current_dav_user", lambda: user)
    return Dav(calendar.client, user)


def test_a_get_shows_the_rule_and_an_untouched_rule_comes_back(calendar, member, sales, dav):
    deal = member.card(sales, "ACME: 40 chairs")
    task = member.task(
        deal,
        "2026-12-01T09:30:00+01:00",
        "Fortnightly call",
        repeat={"freq": "weekly", "interval": 2, "weekdays": ["TU", "TH"]},
    )
    calendar.catch_up()

    for collection, kind in (("tasks", "VTODO"), ("deadlines", "VEVENT")):
        response = dav.request("GET", f"{dav.collection(collection)}{task['id']}.ics")
        assert response.status_code == 200
        (component,) = Calendar.from_ical(response.data).walk(kind)
        rule = component["RRULE"]
        assert (rule["FREQ"], rule["INTERVAL"], sorted(rule["BYDAY"])) == (
            ["WEEKLY"],
            [2],
            ["TH", "TU"],
        )

    href = f"{dav.collection('tasks')}{task['id']}.ics"
    got = dav.request("GET", href)
    changed = got.data.replace(b"FREQ=WEEKLY", b"FREQ=DAILY")
    assert changed != got.data
    refused = dav.request("PUT", href, changed, If_Match=got.headers["ETag"])
    assert refused.status_code == 403
    assert b"valid-calendar-object-resource" in refused.data
    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "open"

    done = got.data.replace(b"STATUS:NEEDS-ACTION", b"STATUS:COMPLETED")
    response = dav.request("PUT", href, done, If_Match=got.headers["ETag"])
    assert response.status_code == 204
    assert member.ok("GET", f"tasks/{task['id']}")["status"] == "done"
