"""CalDAV's filters (``calendar-query``, RFC 4791 §9.7) over the collections' objects.

A filter is read once into a ``Filter``; objects are then tested against it without parsing
them: time ranges against the task's deadline (``Collections.span``), property filters against
the lines of the component's text (unfolded). ``param-filter`` and time ranges on properties
are not checked (every object passes them): answering more than asked is what RFC 4791 lets a
server do with what it does not support, and clients filter again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cardcrm.common.translate import gettext as _

from .store import DavObject
from .xml import CALDAV, BadXml, children, name


@dataclass
class PropFilter:
    name: str
    not_defined: bool = False
    #: (text, negate, case-sensitive)
    matches: list[tuple[str, bool, bool]] = field(default_factory=list)


@dataclass
class Filter:
    """What a ``calendar-query`` asks of the component its collection holds."""

    #: False: the query asks for a component the collection has none of
    possible: bool = True
    start: datetime | None = None
    end: datetime | None = None
    props: list[PropFilter] = field(default_factory=list)
    #: the component must not be there (``is-not-defined`` on it): nothing matches
    none: bool = False


def read_filter(report: Any, component: str) -> Filter:
    """The filter of a ``calendar-query`` report for a collection of ``component``."""
    found = [child for child in children(report) if child.tag == name(CALDAV, "filter")]
    if not found:
        raise BadXml(_("A calendar-query needs a filter."))
    [calendar_filter] = children(found[0])[:1] or [None]
    if calendar_filter is None or calendar_filter.tag != name(CALDAV, "comp-filter"):
        raise BadXml(_("A calendar-query's filter holds a comp-filter."))
    if (calendar_filter.get("name") or "").upper() != "VCALENDAR":
        return Filter(possible=False)
    result = Filter()
    for inner in children(calendar_filter):
        if inner.tag == name(CALDAV, "is-not-defined"):
            return Filter(possible=False)
        if inner.tag != name(CALDAV, "comp-filter"):
            continue
        if (inner.get("name") or "").upper() != component:
            if not any(child.tag == name(CALDAV, "is-not-defined") for child in children(inner)):
                return Filter(possible=False)
            continue
        _read_component(inner, result)
    return result


def _read_component(comp_filter: Any, result: Filter) -> None:
    for child in children(comp_filter):
        if child.tag == name(CALDAV, "is-not-defined"):
            result.none = True
        elif child.tag == name(CALDAV, "time-range"):
            result.start = _instant(child.get("start"))
            result.end = _instant(child.get("end"))
        elif child.tag == name(CALDAV, "prop-filter"):
            prop = PropFilter((child.get("name") or "").upper())
            for test in children(child):
                if test.tag == name(CALDAV, "is-not-defined"):
                    prop.not_defined = True
                elif test.tag == name(CALDAV, "text-match"):
                    collation = test.get("collation") or "i;ascii-casemap"
                    prop.matches.append(
                        (
                            test.text or "",
                            (test.get("negate-condition") or "no").lower() == "yes",
                            collation == "i;octet",
                        )
                    )
            result.props.append(prop)
        # a comp-filter inside (VALARM...) matches nothing cardcrm writes
        elif child.tag == name(CALDAV, "comp-filter") and not any(
            inner.tag == name(CALDAV, "is-not-defined") for inner in children(child)
        ):
            result.possible = False


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise BadXml(
            _("A time-range's bounds are UTC date-times: %(value)s", value=value)
        ) from None


def matches(
    query: Filter, obj: DavObject, span: Callable[[], tuple[datetime, datetime]], kind: str
) -> bool:
    """Whether ``obj`` passes ``query``; ``span()`` is the instants it covers (asked only for
    a time range: most queries have none, and they ask of thousands of objects)."""
    if not query.possible or query.none:
        return False
    if query.start is not None or query.end is not None:
        start, end = span()
        low = query.start or datetime.min.replace(tzinfo=UTC)
        high = query.end or datetime.max.replace(tzinfo=UTC)
        if kind == "VEVENT":
            if not (low < end and high > start):
                return False
        elif not (low <= start <= high):
            return False
    if query.props:
        lines = properties(obj.component)
        for prop in query.props:
            values = lines.get(prop.name, [])
            if prop.not_defined:
                if values:
                    return False
                continue
            if not values:
                return False
            for text, negate, exact in prop.matches:
                found = any(
                    (text in value) if exact else (text.lower() in value.lower())
                    for value in values
                )
                if found == negate:
                    return False
    return True


def properties(component: str) -> dict[str, list[str]]:
    """The properties of a component's text (its first level), name → values."""
    unfolded = component.replace("\r\n ", "").replace("\r\n\t", "")
    found: dict[str, list[str]] = {}
    depth = 0
    for line in unfolded.split("\r\n"):
        if line.startswith("BEGIN:"):
            depth += 1
            continue
        if line.startswith("END:"):
            depth -= 1
            continue
        if depth != 1 or ":" not in line:
            continue
        head, value = line.split(":", 1)
        found.setdefault(head.split(";", 1)[0].upper(), []).append(value)
    return found
