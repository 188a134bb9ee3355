"""The calendar component of a task (VEVENT or VTODO), feeds around them, and reading to-dos back.

Components come from the mirror only: every value comes from the task's last change (never the
time of the request), so the same task always gives the same bytes and a feed's ETag stays
stable until something changes.

Entry points (the iCal feed and the CalDAV servers use the same ones):

- ``Renderer.render(kind, task, card, language)``: one task's ``VEVENT`` or ``VTODO`` as text
  (what the mirror keeps in ``vevent``/``vtodo``); ``task`` and ``card`` are anything with the
  attributes of ``MirrorTask`` and ``MirrorCard`` that rendering reads (``TaskFields`` and
  ``CardFields`` name them; ORM objects do).
- ``Renderer.render_many(kind, pairs, language)``: the same for many tasks, in one context of
  the language (the feed's cold build).
- ``Renderer.component(component, task, card, uid, language)``: the icalendar ``Event`` or
  ``Todo`` itself, for code that wants the object (plugins get it through the
  ``cardcrm_calendar_component`` hook).
- ``Renderer.calendar(components, name=..., timezone=...)``: a published calendar (the feed)
  around rendered components; ``Renderer.todo_document(vtodo)``: one to-do as a calendar object
  resource (``wrap`` puts any rendered components in any calendar head).

While no plugin implements ``cardcrm_calendar_component``, components are written as text in
one pass (``_Writer``), byte for byte what icalendar's ``to_ical`` gives for the component
``component`` builds (icalendar's TEXT escaping and its folding at 75 octets, escapes never
split); ``tests/calendar_sync/test_feed_render.py`` holds the two side by side. With a plugin,
the component is built with icalendar and handed to the plugins, as before.

Words cardcrm adds (``Card: …`` in descriptions, the calendar's name) are in the feed owner's
language (``cardcrm.sidecar.speech``): the renderer's key is one per language
(``key_for``), so a feed keeps its bytes, and its ETag, while its owner keeps their language.

Text goes through ``cardcrm.common.text.printable`` on its way out (one-line values such as
SUMMARY and the calendar's name also lose their line breaks): a control character makes strict
parsers reject the whole calendar, and rows stored before core refused them may still hold one.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pluggy
from cardcrm.common.i18n import SOURCE_LANGUAGE
from cardcrm.common.plugins import call_each
from cardcrm.common.text import printable
from cardcrm.common.timeutil import in_calendar
from cardcrm.sidecar.speech import Speaker
from dateutil import rrule as dateutil_rrule
from flask_babel import gettext as _
from icalendar import Calendar, Component, Event, Todo, vCategory, vDDDTypes, vInt, vText, vUri
from icalendar.prop import vDuration, vRecur

from .models import MirrorTask
from .plugins import plugin_signature

PRODID = "-//cardcrm//calendar sync//EN"
#: Timed tasks become events this long (subscribed calendars show no to-dos).
EVENT_LENGTH = timedelta(minutes=30)
REFRESH_INTERVAL = timedelta(minutes=15)
#: Bump when the rendering changes, so that kept components are rendered again.
RENDER_FORMAT = "3"
#: How feeds store their calendar's name (``feeds.create_feed``); it is said in the owner's
#: language when served (``calendar_name``).
STORED_NAME = re.compile(r"cardcrm tasks \((.*)\)", re.DOTALL)


def due_key(value: date | datetime) -> str:
    """A deadline as both sides can compare it: ``YYYY-MM-DD``, or the instant in UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def task_due_key(task: MirrorTask) -> str:
    return due_key(task.due_date if task.all_day and task.due_date else task.due)


class TaskFields(Protocol):
    """What rendering reads of a task (a ``MirrorTask``, or a row of the same columns)."""

    @property
    def id(self) -> int: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def modified_at(self) -> datetime: ...
    @property
    def sequence(self) -> int: ...
    @property
    def all_day(self) -> bool: ...
    @property
    def due_date(self) -> date | None: ...
    @property
    def due(self) -> datetime: ...


class CardFields(Protocol):
    """What rendering reads of a card (a ``MirrorCard``, or a row of the same columns)."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def product_id(self) -> int | None: ...


class Renderer:
    """Builds components and calendars; ``render_key`` changes when their bytes would."""

    def __init__(
        self,
        plugins: pluggy.PluginManager,
        card_base_url: str,
        uid_domain: str,
        speaker: Speaker | None = None,
    ) -> None:
        self.plugins = plugins
        self.card_base_url = card_base_url.rstrip("/")
        self.uid_domain = uid_domain
        self.speaker = speaker
        key = "|".join((RENDER_FORMAT, self.card_base_url, uid_domain, plugin_signature(plugins)))
        #: the key of English components (the words as written)
        self.render_key = hashlib.sha256(key.encode()).hexdigest()[:32]
        self._keys = {SOURCE_LANGUAGE: self.render_key}

    @property
    def plain(self) -> bool:
        """Whether no plugin adjusts components: then they are written as text directly, and
        need of a task's data only its ``text``, ``type`` and ``repeat``."""
        return not self.plugins.hook.cardcrm_calendar_component.get_hookimpls()

    def key_for(self, language: str) -> str:
        """The render key of components in ``language``: it changes with the language's
        catalogue too, so that a corrected translation reaches calendars."""
        if language not in self._keys:
            catalogues = sorted(
                path.read_bytes()
                for folder in (self.speaker.directories if self.speaker else [])
                for path in folder.glob(f"{language}/LC_MESSAGES/*.po")
            )
            digest = hashlib.sha256(self.render_key.encode() + language.encode())
            for catalogue in catalogues:
                digest.update(catalogue)
            self._keys[language] = digest.hexdigest()[:32]
        return self._keys[language]

    def speaking(self, language: str) -> Any:
        """The context in which components and names are said in ``language``."""
        if self.speaker is None:
            return contextlib.nullcontext()
        return self.speaker.speaking(language)

    def uid(self, task_id: int) -> str:
        return f"task-{task_id}@{self.uid_domain}"

    def card_url(self, card_id: int) -> str:
        return f"{self.card_base_url}/cards/{card_id}"

    # --- components ---------------------------------------------------------------------------

    def render(
        self,
        kind: str,
        task: TaskFields,
        card: CardFields,
        language: str = SOURCE_LANGUAGE,
        uid: str | None = None,
    ) -> str:
        """The task's ``VEVENT`` or ``VTODO`` as text (what the mirror keeps)."""
        return self.render_many(kind, [(task, card)], language, uid)[0]

    def render_many(
        self,
        kind: str,
        pairs: Iterable[tuple[TaskFields, CardFields]],
        language: str = SOURCE_LANGUAGE,
        uid: str | None = None,
    ) -> list[str]:
        """``render`` of each (task, card), in one context of ``language``.

        Without calendar plugins the text is written directly (``_Writer``); with one, each
        component is built with icalendar so that the plugins can change it."""
        if not self.plain:
            make = Event if kind == "VEVENT" else Todo
            with self.speaking(language):
                return [
                    self._component(make(), task, card, uid).to_ical(sorted=False).decode()
                    for task, card in pairs
                ]
        with self.speaking(language):
            writer = _Writer(self, kind, _("Card: %(title)s"), _("Card %(id)s"))
        return [writer.text(task, card, uid) for task, card in pairs]

    def component(
        self,
        component: Component,
        task: TaskFields,
        card: CardFields,
        uid: str | None = None,
        language: str = SOURCE_LANGUAGE,
    ) -> Component:
        """Fill ``component`` (an empty Event or Todo) for ``task``, then let plugins adjust it."""
        with self.speaking(language):
            return self._component(component, task, card, uid)

    def _component(
        self, component: Component, task: TaskFields, card: CardFields, uid: str | None
    ) -> Component:
        text = printable(task.data.get("text") or "")
        title = printable(card.title or _("Card %(id)s", id=card.id))
        url = self.card_url(card.id)
        stamp = vDDDTypes(task.modified_at.astimezone(UTC))
        component["UID"] = vText(uid or self.uid(task.id))
        component["DTSTAMP"] = stamp
        component["LAST-MODIFIED"] = stamp
        component["SEQUENCE"] = vInt(task.sequence)
        component["SUMMARY"] = vText(printable(f"{text} — {title}", one_line=True))
        card_line = _("Card: %(title)s", title=title)
        component["DESCRIPTION"] = vText(f"{text}\n\n{card_line}\n{url}")
        component["URL"] = vUri(url)
        if task.data.get("type"):
            component["CATEGORIES"] = vCategory([printable(task.data["type"], one_line=True)])
        if isinstance(component, Event):
            if task.all_day and task.due_date:
                component["DTSTART"] = vDDDTypes(task.due_date)
                component["DTEND"] = vDDDTypes(task.due_date + timedelta(days=1))
            else:
                start = task.due.astimezone(UTC)
                component["DTSTART"] = vDDDTypes(start)
                component["DTEND"] = vDDDTypes(start + EVENT_LENGTH)
            if rule := repeat_rule(task):
                component["RRULE"] = vRecur.from_ical(rule)
            component["TRANSP"] = vText("TRANSPARENT")
        else:
            component["DUE"] = vDDDTypes(
                task.due_date if task.all_day and task.due_date else task.due.astimezone(UTC)
            )
            if rule := repeat_rule(task):
                component["RRULE"] = vRecur.from_ical(rule)
            component["STATUS"] = vText("NEEDS-ACTION")
        card_data = {"id": card.id, "title": card.title, "product_id": card.product_id, "url": url}
        call_each(
            self.plugins.hook.cardcrm_calendar_component,
            component=component,
            task=dict(task.data),
            card=card_data,
        )
        return component

    # --- calendars ----------------------------------------------------------------------------

    def calendar(self, components: Iterable[str], *, name: str, timezone: str | None) -> bytes:
        """A published calendar (the iCal feed) holding the rendered ``components``."""
        return wrap(self._published(name, timezone), components)

    def calendar_of_bytes(
        self, components: Iterable[bytes], *, name: str, timezone: str | None
    ) -> bytes:
        """``calendar`` of components already encoded (UTF-8): joined without decoding them."""
        head, end = _head(self._published(name, timezone))
        return b"".join(itertools.chain((head.encode(),), components, (end.encode(),)))

    def _published(self, name: str, timezone: str | None) -> Calendar:
        """The properties of a published calendar (no components)."""
        name = printable(name, one_line=True)
        calendar = Calendar()
        calendar.add("PRODID", PRODID)
        calendar.add("VERSION", "2.0")
        calendar.add("CALSCALE", "GREGORIAN")
        calendar.add("METHOD", "PUBLISH")
        calendar.add("NAME", name)
        calendar.add("X-WR-CALNAME", name)
        if timezone:
            calendar.add("X-WR-TIMEZONE", timezone)
        calendar.add("REFRESH-INTERVAL", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
        calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH_INTERVAL))
        return calendar

    def calendar_name(self, stored: str, language: str) -> str:
        """A feed's stored name (``cardcrm tasks (Ana)``) in ``language``; a name stored in
        another shape is shown as it is."""
        match = STORED_NAME.fullmatch(stored)
        if match is None:
            return stored
        with self.speaking(language):
            return _("cardcrm tasks (%(name)s)", name=match.group(1))

    def todo_document(self, vtodo: str) -> bytes:
        """The calendar object resource of one to-do, as PUT to a CalDAV server."""
        calendar = Calendar()
        calendar.add("PRODID", PRODID)
        calendar.add("VERSION", "2.0")
        return wrap(calendar, [vtodo])


def wrap(calendar: Calendar, components: Iterable[str]) -> bytes:
    """``calendar`` (its properties; no components) around rendered ``components``."""
    head, end = _head(calendar)
    return "".join(itertools.chain((head,), components, (end,))).encode()


def _head(calendar: Calendar) -> tuple[str, str]:
    """``calendar`` (no components) as the text before its components and the text after."""
    text = calendar.to_ical(sorted=False).decode()
    end = "END:VCALENDAR\r\n"
    assert text.endswith(end)
    return text[: -len(end)], end


#: The former name of ``wrap``.
_wrap = wrap


# --- repeat rules ---------------------------------------------------------------------------

#: core's repeat kinds (``cardcrm.core.tasks.recurrence``) as dateutil's and RFC 5545's.
_FREQUENCIES: dict[str, Any] = {
    "daily": dateutil_rrule.DAILY,
    "weekly": dateutil_rrule.WEEKLY,
    "monthly": dateutil_rrule.MONTHLY,
    "yearly": dateutil_rrule.YEARLY,
}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: How far ahead a timed series is searched for its zone's next change of the clocks.
CLOCKS_HORIZON = timedelta(days=2 * 366)
#: Occurrences after the current one that a rule must give exactly as core's series does.
CHECKED_OCCURRENCES = 3


def repeat_rule(task: TaskFields) -> str | None:
    """The RRULE value (RFC 5545) of a task's ``repeat``, or ``None`` when it has none or
    when no rule anchored at its deadline gives the occurrences core will make.

    Core repeats a series in the assignee's local time (``repeat.start``, ``repeat.timezone``;
    daily, weekly on weekdays, monthly, yearly, every ``interval``; a series has no end nor
    count). The component's deadline is a DATE (all-day) or a DATE-TIME in UTC, so:

    - all-day tasks repeat by dates: the rule is core's, with no UNTIL (it would be a DATE);
    - a timed task's rule runs in UTC, so its weekdays are shifted when the local day is not
      the UTC day (and WKST with them, so that ``interval`` weeks group alike), and it ends
      (UNTIL, the last occurrence in UTC) before the zone's next change of the clocks: past it
      the local time stays and the UTC time moves, which no rule in UTC says. After that
      change the occurrence then open carries the rule onwards;
    - none is written (what cannot be expressed): a monthly or yearly series whose local day
      differs from its UTC day near a month's end (months skip days differently), a deadline
      off the series (a postponed occurrence), a series whose next occurrence is already past
      the change of the clocks, or any rule that does not give core's next
      ``CHECKED_OCCURRENCES`` occurrences.
    """
    repeat = task.data.get("repeat")
    if not isinstance(repeat, dict) or repeat.get("freq") not in _FREQUENCIES:
        return None
    try:
        return _repeat_rule(task, repeat)
    except (TypeError, ValueError, KeyError):  # a repeat core would not write
        return None


def _repeat_rule(task: TaskFields, repeat: dict[str, Any]) -> str | None:
    freq = _FREQUENCIES[repeat["freq"]]
    interval = int(repeat.get("interval") or 1)
    weekdays = [_WEEKDAYS.index(day) for day in repeat.get("weekdays") or []]
    zone = _zone(str(repeat.get("timezone") or "UTC"))
    all_day = bool(task.all_day and task.due_date)
    if all_day:
        assert task.due_date is not None
        first = datetime.combine(task.due_date, datetime.min.time())
        local = first
        shift = 0
    else:
        first = task.due.astimezone(UTC).replace(tzinfo=None)
        local = task.due.astimezone(zone).replace(tzinfo=None)
        shift = (first.date() - local.date()).days
        monthly = freq in (dateutil_rrule.MONTHLY, dateutil_rrule.YEARLY)
        if shift and monthly and not (2 <= local.day <= 28 if shift < 0 else local.day <= 27):
            return None
    start = datetime.fromisoformat(repeat["start"]) if repeat.get("start") else local
    series = dateutil_rrule.rrule(
        freq, interval=interval, byweekday=weekdays or None, dtstart=start
    )
    if series.after(local, inc=True) != local:
        return None  # the deadline is off the series (postponed)
    days = sorted({(day + shift) % 7 for day in weekdays})
    wkst = shift % 7 if days and shift else 0
    rule = dateutil_rrule.rrule(
        freq, interval=interval, byweekday=days or None, wkst=wkst, dtstart=first
    )
    until = None
    if not all_day:
        change = _clocks_change(zone, task.due.astimezone(UTC))
        if change is not None:
            until = rule.before(change.astimezone(UTC).replace(tzinfo=None))
            if until is None or until <= first:
                return None
            rule = rule.replace(until=until)
    # The rule against core's series: the next occurrences, the same instants (or dates).
    ours = list(itertools.islice(rule.xafter(first), CHECKED_OCCURRENCES))
    theirs = list(itertools.islice(series.xafter(local), len(ours)))
    if all_day:
        if [value.date() for value in ours] != [value.date() for value in theirs]:
            return None
    elif ours != [_utc_naive(value, zone) for value in theirs]:
        return None
    parts = [f"FREQ={repeat['freq'].upper()}"]
    if until is not None:
        parts.append(f"UNTIL={utc_text(until.replace(tzinfo=UTC))}")
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if days:
        parts.append("BYDAY=" + ",".join(_WEEKDAYS[day] for day in days))
    if wkst:
        parts.append(f"WKST={_WEEKDAYS[wkst]}")
    return ";".join(parts)


def _utc_naive(local: datetime, zone: Any) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def _clocks_change(zone: Any, moment: datetime) -> datetime | None:
    """The first instant after ``moment`` at which ``zone``'s offset from UTC changes (within
    ``CLOCKS_HORIZON``; ``None``: none). Probed a week at a time, then narrowed to the second."""
    offset = moment.astimezone(zone).utcoffset()
    step = timedelta(days=7)
    low = moment
    while low - moment < CLOCKS_HORIZON:
        high = low + step
        if high.astimezone(zone).utcoffset() != offset:
            first, last = int(low.timestamp()), int(high.timestamp()) + 1
            while last - first > 1:
                middle = (first + last) // 2
                if datetime.fromtimestamp(middle, zone).utcoffset() != offset:
                    last = middle
                else:
                    first = middle
            return datetime.fromtimestamp(last, UTC)
        low = high
    return None


# --- writing components as text -------------------------------------------------------------


def escape_text(text: str) -> str:
    """A TEXT value escaped as icalendar escapes it (RFC 5545 §3.3.11; in the same order, so
    also its reading of ``\\N`` as a line break and of a lone CR as one)."""
    return (
        text.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


#: Octets of a content line before a fold (icalendar folds before the 75th).
FOLD_OCTETS = 74
_BACKSLASH, _CARET = ord("\\"), ord("^")


def fold_line(line: str) -> str:
    """A content line folded as icalendar folds it: at most 74 octets a line, never inside a
    UTF-8 character, and an escape (``\\`` or ``^``) not left at the end of a line."""
    if line.isascii():
        if len(line) <= FOLD_OCTETS:
            return line  # most lines: one octet a character, and short
        return _fold_ascii(line)
    data = line.encode()
    if len(data) <= FOLD_OCTETS:
        return line
    pieces = []
    start, size = 0, len(data)
    while size - start > FOLD_OCTETS:
        end = start + FOLD_OCTETS
        while data[end] & 0xC0 == 0x80:  # inside a character: cut before it
            end -= 1
        if data[end - 1] in (_BACKSLASH, _CARET):
            end -= 1
        pieces.append(data[start:end])
        start = end
    pieces.append(data[start:])
    return b"\r\n ".join(pieces).decode()


def _fold_ascii(line: str) -> str:
    """``fold_line`` of an ASCII line: one octet a character, so cut by characters."""
    pieces = []
    start, size = 0, len(line)
    while size - start > FOLD_OCTETS:
        end = start + FOLD_OCTETS
        if line[end - 1] in "\\^":
            end -= 1
        pieces.append(line[start:end])
        start = end
    pieces.append(line[start:])
    return "\r\n ".join(pieces)


def utc_text(value: datetime) -> str:
    """A DATE-TIME in UTC (``20260102T030405Z``)."""
    if value.tzinfo is not UTC:  # as the database gives instants (``UTCDateTime``)
        value = value.astimezone(UTC)
    # %-formatting of the fields: a third of the time of ``strftime`` or an f-string's
    return "%04d%02d%02dT%02d%02d%02dZ" % (  # noqa: UP031 (measured: faster)
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
    )


def date_text(value: date) -> str:
    return "%04d%02d%02d" % (value.year, value.month, value.day)  # noqa: UP031 (as utc_text)


class _Writer:
    """Writes the components ``Renderer._component`` builds (without plugins) as text: the
    same properties in the same order, each escaped and folded as icalendar does.

    A feed's tasks share few cards and often a time of change: what a component takes of its
    card (title, URL) and its stamp are worked out once per writer (one feed build)."""

    def __init__(self, renderer: Renderer, kind: str, card_line: str, untitled: str) -> None:
        self.renderer = renderer
        self.event = kind == "VEVENT"
        self.begin, self.end = f"BEGIN:{kind}\r\n", f"END:{kind}\r\n"
        #: ``Card: %(title)s`` and ``Card %(id)s`` in the language, looked up once
        self.card_line, self.untitled = card_line, untitled
        #: per (card id, title): the title as shown, the ``URL`` line, and the card's part of
        #: a description (its line and URL), escaped
        self._cards: dict[tuple[int, str | None], tuple[str, str, str]] = {}
        #: ``CATEGORIES`` lines by task type
        self._categories: dict[str, str] = {}
        #: DTSTAMP and LAST-MODIFIED by time of change
        self._stamps: dict[datetime, str] = {}
        #: ``Renderer.uid`` escaped: nothing in ``task-<id>@`` is escaped, nor joins an escape
        self._uid_end = "@" + escape_text(renderer.uid_domain)

    def _card(self, card: CardFields) -> tuple[str, str, str]:
        key = (card.id, card.title)
        found = self._cards.get(key)
        if found is None:
            title = printable(card.title or self.untitled % {"id": card.id})
            url = self.renderer.card_url(card.id)
            card_text = escape_text(self.card_line % {"title": title} + "\n" + url)
            found = (title, fold_line("URL:" + url) + "\r\n", card_text)
            if len(self._cards) < 10_000:
                self._cards[key] = found
        return found

    def _stamp(self, modified_at: datetime) -> str:
        found = self._stamps.get(modified_at)
        if found is None:
            stamp = utc_text(modified_at)
            found = f"DTSTAMP:{stamp}\r\nLAST-MODIFIED:{stamp}\r\n"
            if len(self._stamps) < 10_000:
                self._stamps[modified_at] = found
        return found

    def _category(self, task_type: str) -> str:
        found = self._categories.get(task_type)
        if found is None:
            category = escape_text(printable(task_type, one_line=True))
            found = fold_line("CATEGORIES:" + category) + "\r\n"
            if len(self._categories) < 1_000:
                self._categories[task_type] = found
        return found

    def text(self, task: TaskFields, card: CardFields, uid: str | None = None) -> str:
        title, url_line, card_text = self._card(card)
        data = task.data
        text = printable(data.get("text") or "")
        summary = escape_text(printable(f"{text} — {title}", one_line=True))
        parts = [
            self.begin,
            fold_line("UID:" + escape_text(uid) if uid else f"UID:task-{task.id}{self._uid_end}"),
            "\r\n",
            self._stamp(task.modified_at),
            f"SEQUENCE:{int(task.sequence)}\r\n",
            fold_line("SUMMARY:" + summary),
            "\r\n",
            # Escaped apart, the same: nothing escaped spans the line break between them.
            fold_line("DESCRIPTION:" + escape_text(text + "\n\n") + card_text),
            "\r\n",
            url_line,
        ]
        if task_type := data.get("type"):
            parts.append(self._category(task_type))
        all_day = task.all_day and task.due_date
        if self.event:
            if all_day:
                assert task.due_date is not None
                start = date_text(task.due_date)
                end = date_text(task.due_date + timedelta(days=1))
                parts.append(f"DTSTART;VALUE=DATE:{start}\r\nDTEND;VALUE=DATE:{end}\r\n")
            else:
                # in UTC before adding: in a zone with summer time the clock is added to
                begins = task.due if task.due.tzinfo is UTC else task.due.astimezone(UTC)
                start, end = utc_text(begins), utc_text(begins + EVENT_LENGTH)
                parts.append(f"DTSTART:{start}\r\nDTEND:{end}\r\n")
            if data.get("repeat") and (rule := repeat_rule(task)):
                parts += (fold_line("RRULE:" + rule), "\r\n")
            parts.append("TRANSP:TRANSPARENT\r\n")
        else:
            if all_day:
                assert task.due_date is not None
                parts.append(f"DUE;VALUE=DATE:{date_text(task.due_date)}\r\n")
            else:
                parts.append(f"DUE:{utc_text(task.due)}\r\n")
            if data.get("repeat") and (rule := repeat_rule(task)):
                parts += (fold_line("RRULE:" + rule), "\r\n")
            parts.append("STATUS:NEEDS-ACTION\r\n")
        parts.append(self.end)
        return "".join(parts)


# --- reading a to-do back from a calendar ---------------------------------------------------


@dataclass(frozen=True)
class RemoteTask:
    """What a calendar app may have changed in a to-do (or an event): its completion, its
    deadline, its summary and description."""

    uid: str | None
    completed: bool
    cancelled: bool
    due: date | datetime | None
    changed_at: datetime | None
    summary: str | None
    #: ``VTODO`` or ``VEVENT``
    kind: str = "VTODO"
    description: str | None = None
    #: The component repeats (RRULE, RDATE or EXDATE); cardcrm says a series by its RRULE only.
    repeats: bool = False
    #: It has a deadline (DUE, else DTSTART) that cardcrm cannot keep (past its calendar).
    due_out_of_range: bool = False
    #: Its RRULE values, as written (``same_rule`` compares one with cardcrm's).
    rules: tuple[str, ...] = ()
    #: It has RDATE or EXDATE (single dates added to or taken off a series).
    dates: bool = False

    @property
    def due_key(self) -> str | None:
        return due_key(self.due) if self.due is not None else None

    def as_dict(self) -> dict[str, Any]:
        """The to-do as the task's history keeps a version that lost a conflict."""
        status = "completed" if self.completed else "cancelled" if self.cancelled else "open"
        return {
            "side": "calendar",
            "status": status,
            "due": self.due_key,
            "summary": self.summary,
            "changed_at": self.changed_at.isoformat().replace("+00:00", "Z")
            if self.changed_at
            else None,
        }


class UnreadableObject(ValueError):
    """A calendar object resource cardcrm cannot take: ``condition`` is the CalDAV
    precondition it fails (a Clark name), ``message`` says why in words."""

    def __init__(self, condition: str, message: str) -> None:
        super().__init__(message)
        self.condition = condition
        self.message = message


CALDAV_NS = "{urn:ietf:params:xml:ns:caldav}"
VALID_DATA = f"{CALDAV_NS}valid-calendar-data"
SUPPORTED_COMPONENT = f"{CALDAV_NS}supported-calendar-component"
VALID_OBJECT = f"{CALDAV_NS}valid-calendar-object-resource"


def parse_remote(data: bytes | str, timezone: str = "UTC") -> RemoteTask | None:
    """The first VTODO of a calendar object resource (``None`` when it holds none).

    What a calendar app wrote is no more trusted than a request: the summary loses control
    characters (it is kept in a task's history), and a deadline past the calendar cardcrm
    keeps counts as none (it could not even be compared in UTC)."""
    try:
        calendar = Calendar.from_ical(data)
    except ValueError:
        return None
    todos = calendar.walk("VTODO")
    if not todos:
        return None
    return _remote_task(todos[0], _zone(timezone))


def read_object(data: bytes | str, kind: str, timezone: str = "UTC") -> RemoteTask:
    """The one ``kind`` component (``VTODO`` or ``VEVENT``) of a calendar object resource a
    client PUT, strictly: anything else raises ``UnreadableObject`` with the precondition it
    fails (unreadable data, another component, several, no UID, a deadline past the calendar
    cardcrm keeps). Time zones (VTIMEZONE) are read, not counted."""
    try:
        text = data.decode() if isinstance(data, bytes) else data
        calendar = Calendar.from_ical(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise UnreadableObject(VALID_DATA, f"Not iCalendar data: {error}") from None
    if calendar.name != "VCALENDAR":
        raise UnreadableObject(VALID_DATA, "Not a VCALENDAR.")
    components = [item for item in calendar.subcomponents if item.name != "VTIMEZONE"]
    names = sorted({str(item.name) for item in components})
    if names != [kind]:
        raise UnreadableObject(
            SUPPORTED_COMPONENT,
            f"This calendar takes {kind} components only; this object holds "
            f"{', '.join(names) or 'none'}.",
        )
    if len(components) != 1:
        raise UnreadableObject(
            VALID_OBJECT,
            f"One {kind} per object: a task has no exceptions to a series "
            "(RECURRENCE-ID) nor siblings.",
        )
    component = components[0]
    if not str(component.get("UID") or "").strip():
        raise UnreadableObject(VALID_OBJECT, f"The {kind} has no UID.")
    try:
        return _remote_task(component, _zone(timezone))
    except (ValueError, TypeError, AttributeError) as error:
        raise UnreadableObject(VALID_DATA, f"Unreadable {kind}: {error}") from None


def _remote_task(component: Component, zone: Any) -> RemoteTask:
    """What cardcrm reads of a VTODO or VEVENT (``read_object`` and ``parse_remote``)."""
    kind = str(component.name)
    status = str(component.get("STATUS", "")).upper()
    try:
        percent = int(component.get("PERCENT-COMPLETE", 0))
    except (TypeError, ValueError):
        percent = 0
    due = component.get("DUE") if kind == "VTODO" else None
    if due is None:
        due = component.get("DTSTART")
    due_value = _aware(due.dt, zone) if due is not None else None
    out_of_range = False
    if isinstance(due_value, date) and not in_calendar(due_value):
        out_of_range = True
    if not isinstance(due_value, date) or out_of_range:
        due_value = None  # none, or past the calendar cardcrm keeps: not a change it can take
    changed = component.get("LAST-MODIFIED") or component.get("DTSTAMP")
    changed_at = _aware(changed.dt, UTC) if changed is not None else None
    summary = component.get("SUMMARY")
    description = component.get("DESCRIPTION")
    return RemoteTask(
        uid=str(component.get("UID")) if component.get("UID") else None,
        completed=kind == "VTODO"
        and ("COMPLETED" in component or status == "COMPLETED" or percent >= 100),
        cancelled=status == "CANCELLED",
        due=due_value,
        changed_at=changed_at if isinstance(changed_at, datetime) else None,
        summary=printable(str(summary)) if summary else None,
        kind=kind,
        description=printable(str(description)) if description else None,
        repeats=any(name in component for name in ("RRULE", "RDATE", "EXDATE")),
        due_out_of_range=out_of_range,
        rules=tuple(_rules(component)),
        dates=any(name in component for name in ("RDATE", "EXDATE")),
    )


def _rules(component: Component) -> list[str]:
    rules = component.get("RRULE")
    if rules is None:
        return []
    values = rules if isinstance(rules, list) else [rules]
    return [value.to_ical().decode() for value in values]


def same_rule(one: str, other: str) -> bool:
    """Whether two RRULE values say the same rule, as parsed: names and weekdays in any
    order or case, an INTERVAL of 1 or a WKST of MO written or left out, UNTIL as the same
    instant (or date). An unreadable rule is the same as none."""
    try:
        return _rule_parts(one) == _rule_parts(other)
    except (ValueError, TypeError, AttributeError):
        return False


def _rule_parts(value: str) -> dict[str, Any]:
    parts: dict[str, Any] = {"INTERVAL": (1,), "WKST": ("MO",)}
    for name, values in vRecur.from_ical(value).items():
        name = name.upper()
        if name == "UNTIL":
            parts[name] = tuple(
                item.astimezone(UTC) if isinstance(item, datetime) and item.tzinfo else item
                for item in values
            )
        elif name in ("BYDAY", "WKST", "FREQ"):
            parts[name] = tuple(sorted(str(item).upper() for item in values))
        else:
            parts[name] = tuple(sorted(values))
    return parts


def _aware(value: Any, zone: Any) -> Any:
    """Floating date-times are read in ``zone`` (the user's time zone)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value


def _zone(name: str) -> Any:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def object_uid(data: bytes | str) -> str | None:
    """The UID of a calendar object resource's first to-do or event (``None``: neither, or
    unreadable): what tells cardcrm's objects from the user's own."""
    try:
        calendar = Calendar.from_ical(data)
    except ValueError:
        return None
    for component in (*calendar.walk("VTODO"), *calendar.walk("VEVENT")):
        if component.get("UID"):
            return str(component["UID"])
    return None
