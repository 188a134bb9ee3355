"""A report's period: whole days in the caller's time zone, given as dates or a shortcut."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cardcrm.common.errors import Invalid
from cardcrm.common.timeutil import OUT_OF_CALENDAR, in_calendar
from cardcrm.common.translate import gettext as _

#: The longest period a report covers: a year, so every query stays bounded.
MAX_PERIOD_DAYS = 366
SHORTCUTS = ("this_month", "last_month", "this_quarter", "this_year")


@dataclass(frozen=True)
class ReportPeriod:
    first: date
    last: date
    zone: ZoneInfo
    #: The shortcut it was chosen by, if any.
    shortcut: str | None = None
    #: The day its weeks start on (0 = Monday, 6 = Sunday): the web page's reader's locale's;
    #: Monday (ISO 8601) for the API.
    first_weekday: int = 0

    @property
    def start(self) -> datetime:
        """The first instant of the period (local midnight)."""
        return datetime.combine(self.first, time(), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=self.zone)

    def weeks(self) -> list[tuple[date, date]]:
        """The period's weeks (from ``first_weekday``, Monday unless told), the first and last
        cut to the period."""
        weeks = []
        day = self.first
        while day <= self.last:
            end = day + timedelta(days=6 - (day.weekday() - self.first_weekday) % 7)
            weeks.append((day, min(end, self.last)))
            day = end + timedelta(days=1)
        return weeks

    def as_json(self) -> dict[str, str | None]:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "timezone": self.zone.key,
            "shortcut": self.shortcut,
        }


def shortcut_days(shortcut: str, today: date) -> tuple[date, date]:
    """The first and last day of ``shortcut`` seen from ``today``."""
    if shortcut == "this_month":
        return today.replace(day=1), _month_end(today)
    if shortcut == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if shortcut == "this_quarter":
        first = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
        return first, _month_end(first.replace(month=first.month + 2))
    if shortcut == "this_year":
        return today.replace(month=1, day=1), today.replace(month=12, day=31)
    raise Invalid({"period": [_("One of: %(choices)s.", choices=", ".join(SHORTCUTS))]})


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def report_period(
    zone_name: str,
    now: datetime,
    first: date | None = None,
    last: date | None = None,
    shortcut: str | None = None,
    *,
    first_weekday: int = 0,
) -> ReportPeriod:
    """The period asked for: ``from``/``to`` dates, or a shortcut; this month by default.

    One date alone makes a period of that one day; a shortcut with dates is refused (which
    would win is not clear), as are a start after the end and a period over a year.
    """
    zone = ZoneInfo(zone_name)
    for name, day in (("from", first), ("to", last)):
        if day is not None and not in_calendar(day):
            raise Invalid({name: [OUT_OF_CALENDAR]})
    if shortcut is not None and (first or last):
        raise Invalid({"period": [_("Give either a period shortcut or from/to dates, not both.")]})
    if first is None and last is None:
        shortcut = shortcut or "this_month"
        first, last = shortcut_days(shortcut, now.astimezone(zone).date())
    first = first or last
    last = last or first
    assert first is not None and last is not None
    if first > last:
        raise Invalid({"from": [_("The period's start is after its end.")]})
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise Invalid({"to": [_("A period is at most %(days)s days.", days=MAX_PERIOD_DAYS)]})
    return ReportPeriod(first, last, zone, shortcut, first_weekday)
