"""Instants are stored in UTC and converted at the edges; the clock is injectable for tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .validation_messages import N_, known

Clock = Callable[[], datetime]

#: The calendar cardcrm keeps dates and instants in. Python's dates end at the years 1 and
#: 9999; a deadline on their first or last day cannot be moved to the time zone of the person
#: who reads it, nor have a day after it (a period's end, "+1 day", a next occurrence). A year
#: kept free at each end leaves room for all of that, so no computation on a value that was
#: let in can overflow.
EARLIEST_DATE, LATEST_DATE = date(2, 1, 1), date(9998, 12, 31)
EARLIEST = datetime.combine(EARLIEST_DATE, time(), tzinfo=UTC)
LATEST = datetime.combine(LATEST_DATE, time.max, tzinfo=UTC)
OUT_OF_CALENDAR = known(
    N_("Out of range: dates run from %(first)s to %(last)s."),
    first=EARLIEST_DATE.isoformat(),
    last=LATEST_DATE.isoformat(),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(UTC)


def in_calendar(value: date | datetime) -> bool:
    """Whether ``value`` (a date, or an aware instant) lies in the calendar cardcrm keeps."""
    if isinstance(value, datetime):
        try:
            return EARLIEST <= value.astimezone(UTC) <= LATEST
        except OverflowError:  # an offset that takes it past year 1 or 9999
            return False
    return EARLIEST_DATE <= value <= LATEST_DATE


def isoformat_z(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, as every response gives instants."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def is_timezone(name: str) -> bool:
    if not name or name not in _zones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return _ZONES
