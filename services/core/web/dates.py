"""Dates and times on the page, written one way: here on the server and by static/dates.js in
the browser, from the same named patterns, locale and zone.

The named formats (English examples, for a user in Europe/Bucharest):

=================  ==============================  ============================================
name               example                         where
=================  ==============================  ============================================
``day``            Sun 6 Dec 2026                  a date (an all-day deadline, a date field)
``day_short``      Sun 6 Dec                       a date in the current year, where it is tight
``day_long``       Sunday 6 December 2026          the Today view's heading
``day_month``      6 Dec                           chart axes
``moment``         Sun 6 Dec 2026, 02:32           an instant (history, notes, files, sessions)
``moment_short``   Sun 6 Dec, 02:32                an instant in the current year, where tight
``time``           02:32                           a time of day
=================  ==============================  ============================================

Two compact forms, for the board's chips, the card list and the Today rows, use the relative
words: ``day_compact`` gives Today, Tomorrow or Yesterday, else ``day_short`` in the current
year and ``day`` in others; ``moment_compact`` gives "Today, 02:32", else ``moment_short`` or
``moment``. "Today" is the viewer's today, in their zone.

Patterns are CLDR (LDML) date patterns, formatted by Babel. ``PATTERNS`` holds the ones chosen
for a locale; a locale without its own takes CLDR's from the skeletons in ``SKELETONS``. The
relative words and the way a word and a time are joined come from CLDR too, so another locale
needs no code here: ``current_locale()`` is the one place that picks it. Every pattern may use
only the fields static/dates.js knows (``SCRIPT_FIELDS``). Machine values (``datetime=``
attributes, date inputs, URLs, the API) stay ISO 8601.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, match_skeleton
from cardcrm.common.i18n import current_language
from flask import Blueprint, g

from ..tasks.today import now as current_instant

DEFAULT_LOCALE = "en"
DAY_FORMATS = ("day", "day_short", "day_long", "day_month")
MOMENT_FORMATS = ("moment", "moment_short", "time")
#: Per locale, patterns chosen over CLDR's skeleton matches (English as cardcrm has written it:
#: day before month, weekday first, 24-hour clock).
PATTERNS: dict[str, dict[str, str]] = {
    "en": {
        "day": "EEE d MMM y",
        "day_short": "EEE d MMM",
        "day_long": "EEEE d MMMM y",
        "day_month": "d MMM",
        "moment": "EEE d MMM y, HH:mm",
        "moment_short": "EEE d MMM, HH:mm",
        "time": "HH:mm",
    }
}
#: The CLDR skeletons a locale without its own ``PATTERNS`` takes its patterns from.
SKELETONS = {
    "day": "yMMMEd",
    "day_short": "MMMEd",
    "day_long": "yMMMMEEEEd",
    "day_month": "MMMd",
    "time": "Hm",
}
#: The LDML fields static/dates.js can write (see its ``OPTIONS``).
SCRIPT_FIELDS = frozenset("EdMLyHhamsc")
RELATIVE_DAYS = {-1: "yesterday", 0: "today", 1: "tomorrow"}
_FIELD = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*")


def user_zone() -> ZoneInfo:
    """The viewer's zone, from their profile (UTC for nobody or a zone this system lacks)."""
    user = g.get("web_user")
    try:
        return ZoneInfo(user.timezone if user else "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def as_instant(value: Any) -> datetime | None:
    """A datetime as it is, ISO 8601 text as an instant; None for anything else."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def current_locale() -> str:
    """The locale dates are written in: the reader's language (``cardcrm.common.i18n``)."""
    return current_language()


@cache
def first_week_day(locale: str | None = None) -> int:
    """The day a week starts on in ``locale`` (0 = Monday … 6 = Sunday), from CLDR: Monday for
    ``en`` and ``ro`` (their default regions, the world and Romania), Sunday for ``en_US``."""
    return Locale.parse((locale or current_locale()).replace("-", "_")).first_week_day


def week_start(day: date, first_weekday: int) -> date:
    """The first day of ``day``'s week, for weeks starting on ``first_weekday`` (0 = Monday)."""
    return day - timedelta(days=(day.weekday() - first_weekday) % 7)


@cache
def patterns(locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    """Each named format's LDML pattern in ``locale``."""
    if locale in PATTERNS:
        return dict(PATTERNS[locale])
    cldr = Locale.parse(locale)
    chosen = {
        name: cldr.datetime_skeletons[
            match_skeleton(skeleton, cldr.datetime_skeletons) or ""
        ].pattern
        for name, skeleton in SKELETONS.items()
    }
    # CLDR matches the skeleton's fields, not always its widths: the long day names its weekday
    chosen["day_long"] = re.sub("E+", "EEEE", chosen["day_long"])
    join = str(cldr.datetime_formats["medium"])
    chosen["moment"] = join.replace("{1}", chosen["day"]).replace("{0}", chosen["time"])
    chosen["moment_short"] = join.replace("{1}", chosen["day_short"]).replace("{0}", chosen["time"])
    return chosen


@cache
def words(locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    """Today, Tomorrow, Yesterday in ``locale`` (capitalised: they start a chip), and how a
    day and a time are joined (CLDR's ``{1}, {0}``: the day is {1}, the time {0})."""
    cldr = Locale.parse(locale)
    relative = cldr._data["date_fields"]["day"]["relative"]
    found = {"yesterday": relative[-1], "today": relative[0], "tomorrow": relative[1]}
    chosen = {key: text[:1].upper() + text[1:] for key, text in found.items()}
    chosen["join"] = str(cldr.datetime_formats["medium"])
    return chosen


def pattern_fields(pattern: str) -> set[str]:
    """The LDML field letters ``pattern`` uses (quoted text left out)."""
    return {match.group(1) for match in _FIELD.finditer(pattern) if match.group(1)}


def _day_of(value: Any, zone: tzinfo | None) -> date | None:
    """A date as it is (an all-day deadline), an instant as the date it is in ``zone``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    moment = as_instant(value)
    return moment.astimezone(zone or user_zone()).date() if moment else None


def format_day(
    value: Any, name: str = "day", *, zone: tzinfo | None = None, locale: str | None = None
) -> str:
    """A date (or an instant's date in the viewer's zone) in one of ``DAY_FORMATS``."""
    day = _day_of(value, zone)
    if day is None:
        return ""
    locale = locale or current_locale()
    return format_date(day, patterns(locale)[name], locale=locale)


def format_moment(
    value: Any, name: str = "moment", *, zone: tzinfo | None = None, locale: str | None = None
) -> str:
    """An instant (a datetime or ISO 8601 text) in one of ``MOMENT_FORMATS``, in the viewer's
    zone; "" when it is none."""
    moment = as_instant(value)
    if moment is None:
        return ""
    locale = locale or current_locale()
    return format_datetime(
        moment, patterns(locale)[name], tzinfo=zone or user_zone(), locale=locale
    )


def _relative_word(day: date, today: date, locale: str) -> str | None:
    key = RELATIVE_DAYS.get((day - today).days)
    return words(locale)[key] if key else None


def day_compact(
    value: Any,
    *,
    now: datetime | None = None,
    zone: tzinfo | None = None,
    locale: str | None = None,
) -> str:
    """Today, Tomorrow or Yesterday; else the date, without its year in the current year."""
    zone = zone or user_zone()
    locale = locale or current_locale()
    day = _day_of(value, zone)
    if day is None:
        return ""
    today = (now or current_instant()).astimezone(zone).date()
    word = _relative_word(day, today, locale)
    if word:
        return word
    name = "day_short" if day.year == today.year else "day"
    return format_day(day, name, zone=zone, locale=locale)


def moment_compact(
    value: Any,
    *,
    now: datetime | None = None,
    zone: tzinfo | None = None,
    locale: str | None = None,
) -> str:
    """ "Today, 02:32" (Tomorrow, Yesterday); else the instant, without its year in the current
    year."""
    zone = zone or user_zone()
    locale = locale or current_locale()
    moment = as_instant(value)
    if moment is None:
        return ""
    day = moment.astimezone(zone).date()
    today = (now or current_instant()).astimezone(zone).date()
    word = _relative_word(day, today, locale)
    if word:
        at = format_moment(moment, "time", zone=zone, locale=locale)
        return words(locale)["join"].replace("{1}", word).replace("{0}", at)
    name = "moment_short" if day.year == today.year else "moment"
    return format_moment(moment, name, zone=zone, locale=locale)


def day_range(
    first: date, last: date, *, zone: tzinfo | None = None, locale: str | None = None
) -> str:
    """Two dates of a period, the year written once when they share it: "Mon 30 Nov – Sun 6
    Dec 2026"."""
    name = "day_short" if first.year == last.year else "day"
    start = format_day(first, name, zone=zone, locale=locale)
    return f"{start} – {format_day(last, 'day', zone=zone, locale=locale)}"


def page_settings() -> dict[str, Any]:
    """What static/dates.js needs to write dates as the server does (``<html data-dates>``)."""
    locale = current_locale()
    return {
        "locale": locale,
        "zone": str(user_zone()),
        "patterns": patterns(locale),
        "words": words(locale),
    }


def install(web: Blueprint) -> None:
    """One Jinja filter per named format, and ``date_settings`` for the layout."""
    for name in DAY_FORMATS:
        web.add_app_template_filter(lambda value, name=name: format_day(value, name), name)
    for name in MOMENT_FORMATS:
        web.add_app_template_filter(lambda value, name=name: format_moment(value, name), name)
    web.add_app_template_filter(lambda value: day_compact(value), "day_compact")
    web.add_app_template_filter(lambda value: moment_compact(value), "moment_compact")
    web.add_app_template_global(day_range, "day_range")
    web.app_context_processor(lambda: {"date_settings": page_settings})
