"""Dates written one way (services/core/web/dates.py): each named format, in the viewer's zone,
all-day dates kept as the date they are, and the relative words where the UI is compact."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from cardcrm.core.web import dates

BUCHAREST = ZoneInfo("Europe/Bucharest")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
# Sunday 6 December 2026, 00:32 UTC: already 02:32 in Bucharest, still Saturday in Los Angeles.
INSTANT = datetime.fromisoformat("2026-12-06T00:32:00Z")


@pytest.mark.parametrize(
    ("name", "in_bucharest", "in_los_angeles"),
    [
        ("day", "Sun 6 Dec 2026", "Sat 5 Dec 2026"),
        ("day_short", "Sun 6 Dec", "Sat 5 Dec"),
        ("day_long", "Sunday 6 December 2026", "Saturday 5 December 2026"),
        ("day_month", "6 Dec", "5 Dec"),
    ],
)
def test_an_instants_day_is_the_day_it_is_in_the_viewers_zone(name, in_bucharest, in_los_angeles):
    assert dates.format_day(INSTANT, name, zone=BUCHAREST) == in_bucharest
    assert dates.format_day(INSTANT, name, zone=LOS_ANGELES) == in_los_angeles


@pytest.mark.parametrize(
    ("name", "in_bucharest", "in_los_angeles"),
    [
        ("moment", "Sun 6 Dec 2026, 02:32", "Sat 5 Dec 2026, 16:32"),
        ("moment_short", "Sun 6 Dec, 02:32", "Sat 5 Dec, 16:32"),
        ("time", "02:32", "16:32"),
    ],
)
def test_an_instant_is_written_in_the_viewers_zone(name, in_bucharest, in_los_angeles):
    assert dates.format_moment(INSTANT, name, zone=BUCHAREST) == in_bucharest
    assert dates.format_moment(INSTANT, name, zone=LOS_ANGELES) == in_los_angeles
    # the API's ISO text reads the same as the instant
    assert dates.format_moment("2026-12-06T00:32:00Z", name, zone=BUCHAREST) == in_bucharest


def test_an_all_day_deadline_is_its_date_in_every_zone():
    for zone in (BUCHAREST, LOS_ANGELES, ZoneInfo("Pacific/Kiritimati")):
        assert dates.format_day(date(2026, 12, 6), "day", zone=zone) == "Sun 6 Dec 2026"
        assert dates.format_day("2026-12-06", "day", zone=zone) == "Sun 6 Dec 2026"


def test_midnight_and_one_minute_before_are_different_days():
    before = datetime.fromisoformat("2026-12-31T21:59:00Z")  # 23:59 in Bucharest
    after = datetime.fromisoformat("2026-12-31T22:00:00Z")
    assert dates.format_moment(before, zone=BUCHAREST) == "Thu 31 Dec 2026, 23:59"
    assert dates.format_moment(after, zone=BUCHAREST) == "Fri 1 Jan 2027, 00:00"


def test_the_compact_forms_say_today_tomorrow_yesterday_in_the_viewers_zone():
    now = datetime.fromisoformat("2026-12-06T10:00:00Z")  # Sunday everywhere but Kiritimati
    assert dates.moment_compact(INSTANT, now=now, zone=BUCHAREST) == "Today, 02:32"
    # the same instant is Saturday afternoon in Los Angeles: yesterday there
    assert dates.moment_compact(INSTANT, now=now, zone=LOS_ANGELES) == "Yesterday, 16:32"
    tomorrow = datetime.fromisoformat("2026-12-07T08:00:00Z")
    assert dates.moment_compact(tomorrow, now=now, zone=BUCHAREST) == "Tomorrow, 10:00"
    later = datetime.fromisoformat("2026-12-20T08:00:00Z")
    assert dates.moment_compact(later, now=now, zone=BUCHAREST) == "Sun 20 Dec, 10:00"
    next_year = datetime.fromisoformat("2027-01-20T08:00:00Z")
    assert dates.moment_compact(next_year, now=now, zone=BUCHAREST) == "Wed 20 Jan 2027, 10:00"


def test_an_all_day_deadline_is_compact_by_its_own_date():
    now = datetime.fromisoformat("2026-12-06T23:30:00Z")  # Monday 01:30 in Bucharest
    assert dates.day_compact(date(2026, 12, 7), now=now, zone=BUCHAREST) == "Today"
    assert dates.day_compact(date(2026, 12, 7), now=now, zone=LOS_ANGELES) == "Tomorrow"
    assert dates.day_compact(date(2026, 12, 25), now=now, zone=BUCHAREST) == "Fri 25 Dec"
    assert dates.day_compact(date(2025, 12, 25), now=now, zone=BUCHAREST) == "Thu 25 Dec 2025"


def test_a_period_writes_its_year_once():
    assert dates.day_range(date(2026, 11, 30), date(2026, 12, 6)) == "Mon 30 Nov – Sun 6 Dec 2026"
    assert dates.day_range(date(2026, 12, 28), date(2027, 1, 3)) == (
        "Mon 28 Dec 2026 – Sun 3 Jan 2027"
    )


def test_nothing_or_garbage_writes_nothing():
    assert dates.format_moment(None, zone=BUCHAREST) == ""
    assert dates.format_moment("not a date", zone=BUCHAREST) == ""
    assert dates.format_day("", zone=BUCHAREST) == ""


@pytest.mark.parametrize("locale", ["en", "ro", "hu", "de"])
def test_every_pattern_uses_only_fields_the_pages_script_can_write(locale):
    """static/dates.js writes the same patterns; a field it does not know would differ."""
    patterns = dates.patterns(locale)
    assert set(patterns) == set(dates.DAY_FORMATS + dates.MOMENT_FORMATS)
    for name, pattern in patterns.items():
        assert dates.pattern_fields(pattern) <= dates.SCRIPT_FIELDS, (name, pattern)
        if name in dates.DAY_FORMATS:  # a date has no time of day to write
            assert not dates.pattern_fields(pattern) & set("HhamsS"), (name, pattern)
    words = dates.words(locale)
    assert {"today", "tomorrow", "yesterday", "join"} <= set(words)
    assert all(words[key][:1].isupper() for key in ("today", "tomorrow", "yesterday"))


def test_another_locale_needs_no_code_here():
    """Issue 17 only changes current_locale(): Romanian comes from CLDR."""
    zone = BUCHAREST
    assert dates.format_moment(INSTANT, "moment", zone=zone, locale="ro") == (
        "dum., 6 dec. 2026, 02:32"
    )
    assert dates.moment_compact(INSTANT, now=INSTANT, zone=zone, locale="ro") == "Azi, 02:32"
