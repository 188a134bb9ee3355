"""Recurring tasks: the next occurrence of a series, at the same local time.

A series is anchored at its first deadline in the assignee's time zone (``repeat.start`` and
``repeat.timezone``), and occurrences follow RFC 5545 rules (dateutil's ``rrule``) in local
time, so a weekly 09:00 task stays at 09:00 across a change of the clocks. Each occurrence keeps
the deadline the series gave it (``series_due``): postponing one does not shift the others.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cardcrm.common.timeutil import LATEST_DATE
from dateutil import rrule

FREQUENCIES: dict[str, Literal[0, 1, 2, 3, 4, 5, 6]] = {
    "daily": rrule.DAILY,
    "weekly": rrule.WEEKLY,
    "monthly": rrule.MONTHLY,
    "yearly": rrule.YEARLY,
}
WEEKDAYS = {
    "MO": rrule.MO,
    "TU": rrule.TU,
    "WE": rrule.WE,
    "TH": rrule.TH,
    "FR": rrule.FR,
    "SA": rrule.SA,
    "SU": rrule.SU,
}


def anchor(repeat: dict[str, Any], due: datetime, zone_name: str) -> dict[str, Any]:
    """``repeat`` with the series anchored at ``due`` in the zone ``zone_name``."""
    local = due.astimezone(ZoneInfo(zone_name)).replace(tzinfo=None)
    return {**_rule_part(repeat), "start": local.isoformat(), "timezone": zone_name}


def next_occurrence(repeat: dict[str, Any], scheduled: datetime) -> datetime | None:
    """The series' first deadline after ``scheduled`` (an aware instant); ``None`` when it
    would fall past the calendar cardcrm keeps (``timeutil.LATEST``): the series ends there."""
    zone = ZoneInfo(repeat["timezone"])
    start = datetime.fromisoformat(repeat["start"])
    rule = rrule.rrule(
        FREQUENCIES[repeat["freq"]],
        interval=repeat.get("interval") or 1,
        byweekday=[WEEKDAYS[day] for day in repeat.get("weekdays") or []] or None,
        dtstart=start,
    )
    local_now = scheduled.astimezone(zone).replace(tzinfo=None)
    # Local times are bounded a day inside the calendar, so that the instant is in it too.
    rule = rule.replace(until=datetime.combine(LATEST_DATE - timedelta(days=1), time.max))
    following = rule.after(local_now)
    if following is None:
        return None
    return following.replace(tzinfo=zone)


def next_date(repeat: dict[str, Any], scheduled: date) -> date | None:
    """For all-day series: the date after ``scheduled`` (``None``: the series has ended)."""
    moment = datetime.combine(scheduled, time(), tzinfo=ZoneInfo(repeat["timezone"]))
    following = next_occurrence(repeat, moment)
    return following.date() if following is not None else None


def _rule_part(repeat: dict[str, Any]) -> dict[str, Any]:
    part = {"freq": repeat["freq"], "interval": repeat.get("interval") or 1}
    if repeat.get("weekdays"):
        part["weekdays"] = list(repeat["weekdays"])
    return part
