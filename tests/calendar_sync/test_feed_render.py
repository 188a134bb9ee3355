"""Components written as text (``ical._Writer``) against the ones icalendar builds.

The feed writes each task's component in one pass instead of building it with icalendar; these
tests hold the two side by side for a varied set of tasks, in each language: the same bytes,
and, parsed back by icalendar and by vobject (a second parser), the same properties.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pluggy
import pytest
import recurring_ical_events
import vobject
from cardcrm.calendar_sync import hookspecs
from cardcrm.calendar_sync.context import TRANSLATIONS
from cardcrm.calendar_sync.ical import Renderer, date_text, escape_text, fold_line, utc_text
from cardcrm.calendar_sync.models import MirrorCard, MirrorTask
from cardcrm.core.tasks import recurrence
from cardcrm.sidecar.speech import Speaker
from icalendar import Calendar, Event, Todo
from icalendar.parser.string import _escape_char, _foldline
from sqlalchemy import select

CHANGED = datetime(2026, 11, 3, 14, 5, 9, 123456, tzinfo=UTC)
LONG = "Ask about the delivery of forty chairs and twelve tables to the new office " * 3


def task(number: int, text: str, *, all_day: bool = False, **data: Any) -> SimpleNamespace:
    due = datetime(2026, 12, 1, 8, 30, tzinfo=UTC) + timedelta(days=number, minutes=15 * number)
    return SimpleNamespace(
        id=number,
        data={"id": number, "text": text, "all_day": all_day, **data},
        modified_at=CHANGED + timedelta(hours=number),
        sequence=number % 4,
        all_day=all_day,
        due_date=due.date() if all_day else None,
        due=due,
    )


def in_zone(made: SimpleNamespace, zone: str, due: datetime | None = None) -> SimpleNamespace:
    """``made`` with its deadline (``due``, else its own) and its time of change in ``zone``."""
    made.due = (due or made.due).astimezone(ZoneInfo(zone))
    made.modified_at = made.modified_at.astimezone(ZoneInfo(zone))
    return made


def card(number: int, title: str) -> SimpleNamespace:
    return SimpleNamespace(id=number, title=title, product_id=3)


def recurring(
    number: int, text: str, repeat: dict[str, Any], zone: str = "UTC", due: Any = None
) -> SimpleNamespace:
    """A task of a series as core keeps it: ``repeat`` anchored at its deadline (a
    ``datetime``, local in ``zone`` when naive, or a ``date``: all-day)."""
    made = task(number, text, all_day=isinstance(due, date) and not isinstance(due, datetime))
    if isinstance(due, datetime):
        made.due = due.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    elif due is not None:
        made.due_date = due
        made.due = datetime.combine(due, time(), tzinfo=ZoneInfo(zone))
    made.data["repeat"] = recurrence.anchor(repeat, made.due, zone)
    return made


#: Series of each kind core makes: (task, the RRULE cardcrm writes; ``None``: none can say it).
RECURRING = [
    # daily in Bucharest: in UTC until the clocks change (28 March 2027, 01:00 UTC)
    (
        recurring(13, "Daily stand-up", {"freq": "daily"}, "Europe/Bucharest"),
        "FREQ=DAILY;UNTIL=20270327T114500Z",
    ),
    (
        recurring(14, "Every third day", {"freq": "daily", "interval": 3}, "UTC"),
        "FREQ=DAILY;INTERVAL=3",
    ),
    (
        recurring(
            15,
            "Fortnightly",
            {"freq": "weekly", "interval": 2, "weekdays": ["MO", "WE"]},
            "Europe/Bucharest",
            datetime(2026, 12, 7, 9, 0),
        ),
        "FREQ=WEEKLY;UNTIL=20270317T070000Z;INTERVAL=2;BYDAY=MO,WE",
    ),
    # 20:00 in New York is the next day in UTC: weekdays (and the week's start) move with it
    (
        recurring(
            16,
            "Evening report",
            {"freq": "weekly", "interval": 2, "weekdays": ["TU", "FR"]},
            "America/New_York",
            datetime(2026, 12, 8, 20, 0),
        ),
        "FREQ=WEEKLY;UNTIL=20270306T010000Z;INTERVAL=2;BYDAY=WE,SA;WKST=TU",
    ),
    (
        recurring(
            17,
            "Weekly, all day",
            {"freq": "weekly", "weekdays": ["TH", "MO"]},
            "Europe/Bucharest",
            date(2026, 12, 3),
        ),
        "FREQ=WEEKLY;BYDAY=MO,TH",
    ),
    (
        recurring(18, "Month's end", {"freq": "monthly"}, "Europe/Bucharest", date(2027, 1, 31)),
        "FREQ=MONTHLY",
    ),
    (
        recurring(
            19,
            "Rent",
            {"freq": "monthly", "interval": 2},
            "Asia/Tokyo",
            datetime(2026, 12, 15, 10, 0),
        ),
        "FREQ=MONTHLY;INTERVAL=2",
    ),
    (
        recurring(20, "Leap day", {"freq": "yearly"}, "UTC", date(2028, 2, 29)),
        "FREQ=YEARLY",
    ),
    (
        recurring(21, "Audit", {"freq": "yearly"}, "UTC", datetime(2026, 12, 20, 12, 0)),
        "FREQ=YEARLY",
    ),
    # the 30th at 20:00 in New York is the 31st in UTC, or the 1st: months skip differently
    (
        recurring(
            22, "Invoice", {"freq": "monthly"}, "America/New_York", datetime(2026, 12, 30, 20, 0)
        ),
        None,
    ),
    # yearly in Bucharest: the next occurrence is past a change of the clocks
    (
        recurring(
            23, "Anniversary", {"freq": "yearly"}, "Europe/Bucharest", datetime(2026, 12, 20, 12, 0)
        ),
        None,
    ),
]


#: (task, card): all-day and timed, recurring, unicode and emoji, lines to fold, characters to
#: escape, descriptions, categories, an untitled card, control characters.
CASES = [
    (task(1, "Call Ana back"), card(10, "ACME: 40 chairs")),
    (task(2, "Send the offer", all_day=True, type="email"), card(11, "Offer")),
    (
        task(3, "Weekly check-in", repeat={"freq": "weekly", "byday": ["MO"]}, type="meeting"),
        card(12, "Retainer"),
    ),
    (
        task(4, "Monthly invoice", all_day=True, repeat={"freq": "monthly"}),
        card(13, "Invoices 2026"),
    ),
    (task(5, "Sună-l pe Ion 📞 — ședință țărănească"), card(14, "Șantier Brașov 🏗️")),
    (task(6, LONG, type="call"), card(15, LONG.upper())),
    (task(7, "a, b; c \\ d\nsecond line\r\nthird\rfourth", type="a,b;c\\d"), card(16, "x;y,z")),
    (task(8, "literal \\N and \\n and \\, kept"), card(17, "back\\slash at end\\")),
    (task(9, ("é" * 37) + "\\" + ("😀" * 20) + "^" + ("ș," * 30)), card(18, "")),
    (task(10, "tab\there, bell\x07, line\u2028separator"), card(19, "new\nline title")),
    (task(11, ""), card(20, "No text")),
    (task(12, "Escape at the fold " + "\\" * 120 + "^" * 80), card(21, ";" * 90)),
    *((made, card(30 + made.id, "Series")) for made, _rule in RECURRING),
    *(
        (made, title if isinstance(title, SimpleNamespace) else card(made.id, title))
        for made, title in (
            # deadlines and changes given in other zones than UTC, as a driver may give them
            (
                in_zone(
                    task(24, "Întâlnire la Iași; aduce-ți actele, ţară/țară şi şi"),
                    "Europe/Bucharest",
                ),
                "Șantier: Țăndărei, Câmpina, Înalt",
            ),
            (in_zone(task(25, "New York call, 8 PM"), "America/New_York"), "NY"),
            # 03:45 on the first pass of Bucharest's clocks going back (25 October 2026): a
            # half-hour event ends at 01:15 UTC (03:15 on the second pass), not at 04:15 local
            (
                in_zone(
                    task(26, "Ședință la ora schimbării"),
                    "Europe/Bucharest",
                    due=datetime(2026, 10, 25, 0, 45, tzinfo=UTC),
                ),
                "Ora de iarnă",
            ),
            (in_zone(task(27, "Sydney", all_day=True), "Australia/Sydney"), "Down under"),
            # notes of several lines, Romanian with both forms of ș and ț, folded mid-character
            (
                task(28, ("Notă: " + "șțăîâŞŢ ĂÎÂ ş ţ, " * 12 + "\n") * 3 + "sfârșit", type="notă"),
                card(28, "Contract „Șoseaua Ștefan cel Mare” — etapa a II-a " * 2),
            ),
        )
    ),
]


def renderer(plugins: list[Any] | None = None) -> Renderer:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for plugin in plugins or []:
        manager.register(plugin)
    speaker = Speaker([TRANSLATIONS], None)
    return Renderer(manager, "https://crm.example.com/", "crm.example.com", speaker)


def with_icalendar(renderer: Renderer, kind: str, task: Any, card: Any, language: str) -> str:
    """The component as it was always made: built with icalendar, then serialised."""
    component = renderer.component(
        Event() if kind == "VEVENT" else Todo(), task, card, None, language
    )
    return component.to_ical(sorted=False).decode()


def languages() -> list[str]:
    return sorted(Speaker([TRANSLATIONS], None).languages)


def properties_by_icalendar(text: str) -> list[tuple[str, Any]]:
    parsed = Calendar.from_ical(calendar_of(text))
    (component,) = [*parsed.walk("VEVENT"), *parsed.walk("VTODO")]
    values = []
    for name, value in component.property_items(recursive=False, sorted=False):
        if name in ("BEGIN", "END"):
            continue
        if name == "CATEGORIES":
            values.append((name, list(value.cats)))
        elif name == "RRULE":
            values.append((name, value.to_ical().decode()))
        elif hasattr(value, "dt"):
            values.append((name, value.dt))
        else:
            values.append((name, str(value) if not isinstance(value, int) else int(value)))
    return values


def properties_by_vobject(text: str) -> dict[str, Any]:
    parsed = vobject.readOne(calendar_of(text))
    (component,) = [*parsed.contents.get("vevent", []), *parsed.contents.get("vtodo", [])]
    values: dict[str, Any] = {}
    for name, lines in component.contents.items():
        (line,) = lines
        values[name.upper()] = line.value
    return values


def calendar_of(component: str) -> str:
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{component}END:VCALENDAR\r\n"


@pytest.mark.parametrize("kind", ["VEVENT", "VTODO"])
def test_components_written_as_text_are_icalendars_bytes_in_every_language(kind):
    written = renderer()
    for language in languages():
        pairs = [(task, card) for task, card in CASES]
        texts = written.render_many(kind, pairs, language)
        for (task, card), text in zip(pairs, texts, strict=True):
            assert text == with_icalendar(written, kind, task, card, language), (language, task.id)
            assert text == written.render(kind, task, card, language)


@pytest.mark.parametrize("kind", ["VEVENT", "VTODO"])
def test_both_parsers_read_the_same_properties_as_from_icalendars_component(kind):
    written = renderer()
    for task, card in CASES:
        text = written.render(kind, task, card)
        built = with_icalendar(written, kind, task, card, "en")
        assert properties_by_icalendar(text) == properties_by_icalendar(built)
        by_vobject = properties_by_vobject(text)
        assert by_vobject == properties_by_vobject(built)
        # vobject reads what icalendar reads, property by property
        for name, value in properties_by_icalendar(text):
            other = by_vobject[name]
            if name == "CATEGORIES":
                assert ",".join(value) == ",".join(other)
            elif name in ("SEQUENCE",):
                assert int(other) == value
            else:
                assert other == value, name
        for line in text.split("\r\n"):
            assert len(line.encode()) <= 75


def test_long_descriptions_fold_and_unicode_survives():
    task_, card_ = CASES[5]
    text = renderer().render("VTODO", task_, card_)
    assert "\r\n " in text
    parsed = vobject.readOne(calendar_of(text)).vtodo
    assert parsed.summary.value == f"{LONG} — {LONG.upper()}"
    emoji_task, emoji_card = CASES[4]
    parsed = vobject.readOne(calendar_of(renderer().render("VEVENT", emoji_task, emoji_card)))
    assert parsed.vevent.summary.value == "Sună-l pe Ion 📞 — ședință țărănească — Șantier Brașov 🏗️"


def test_escaping_and_folding_match_icalendar_on_random_text():
    """The helpers against icalendar's own, on text full of what they treat specially."""
    alphabet = "ab ,;:\\N^\n\r\t\"'ășț€😀é—"
    chance = random.Random(18)
    for _ in range(3000):
        value = "".join(chance.choice(alphabet) for _ in range(chance.randint(0, 240)))
        escaped = escape_text(value)
        assert escaped == _escape_char(value)
        line = "DESCRIPTION:" + escaped
        assert fold_line(line) == _foldline(line)


def test_with_a_plugin_components_are_built_with_icalendar_for_it():
    """A plugin gets icalendar's component, and what it adds is in the text."""

    @hookspecs.hookimpl
    def cardcrm_calendar_component(component, task, card):
        if task.get("repeat"):
            component.add("X-SERIES", task["repeat"]["freq"].upper())

    plugin = SimpleNamespace(cardcrm_calendar_component=cardcrm_calendar_component)
    with_plugin = renderer([plugin])
    assert not with_plugin.plain
    task_, card_ = CASES[2]
    text = with_plugin.render("VEVENT", task_, card_)
    assert "X-SERIES:WEEKLY\r\n" in text
    assert vobject.readOne(calendar_of(text)).vevent.x_series.value == "WEEKLY"
    plain = renderer().render("VEVENT", task_, card_)
    assert text.replace("X-SERIES:WEEKLY\r\n", "") == plain


@pytest.mark.parametrize("kind", ["VEVENT", "VTODO"])
def test_recurring_tasks_carry_the_rule_of_their_series(kind):
    written = renderer()
    for made, rule in RECURRING:
        text = written.render(kind, made, card(1, "Series"))
        rules = [line for line in text.split("\r\n") if line.startswith("RRULE")]
        assert rules == ([f"RRULE:{rule}"] if rule else []), made.id
    plain = written.render(kind, *CASES[0])
    assert "RRULE" not in plain


def core_series(made: Any, count: int) -> list[date | datetime]:
    """The task's deadline and the next ones core makes as each occurrence closes."""
    if made.all_day:
        dates: list[date | datetime] = [made.due_date]
        while len(dates) < count:
            dates.append(recurrence.next_date(made.data["repeat"], dates[-1]))
        return dates
    instants: list[date | datetime] = [made.due]
    while len(instants) < count:
        following = recurrence.next_occurrence(made.data["repeat"], instants[-1])
        instants.append(following.astimezone(UTC))
    return instants


@pytest.mark.parametrize("kind", ["VEVENT", "VTODO"])
def test_calendars_expand_the_occurrences_core_will_make(kind):
    """icalendar with recurring_ical_events, and vobject, expand each rule to core's next
    deadlines: every occurrence a calendar shows (up to the rule's UNTIL) is one core makes."""
    written = renderer()
    for made, rule in RECURRING:
        if rule is None:
            continue
        text = calendar_of(written.render(kind, made, card(1, "Series")))
        parsed = Calendar.from_ical(text)
        start = made.due_date if made.all_day else made.due
        shown = [
            occurrence.get("DTSTART" if kind == "VEVENT" else "DUE").dt
            for occurrence in itertools.islice(
                recurring_ical_events.of(parsed, components=[kind]).after(start), 200
            )
        ]
        assert len(shown) >= 4, made.id
        assert shown == core_series(made, len(shown)), made.id
        component = vobject.readOne(text).contents[kind.lower()][0]
        by_vobject = list(itertools.islice(component.getrruleset(addRDate=True), 200))
        if made.all_day:
            assert [moment.date() for moment in by_vobject] == shown, made.id
        else:
            assert by_vobject == shown, made.id


def test_a_postponed_occurrence_carries_no_rule():
    """Off its series (postponed a day), no rule anchored at its deadline says the series."""
    made, _rule = RECURRING[0]
    moved = SimpleNamespace(**{**vars(made), "due": made.due + timedelta(days=1, hours=2)})
    assert "RRULE" not in renderer().render("VTODO", moved, card(1, "Series"))


def test_a_served_feed_holds_icalendars_components_and_both_parsers_read_it(
    calendar, member, sales
):
    deal = member.card(sales, "ACME; 40 chairs, \\ and 📦 " + "x" * 80)
    member.task(deal, "2026-12-01T09:30:00+01:00", "Call, Ana; back\nthen " + "y" * 90, type="call")
    member.task(deal, "2026-12-03", "Ședință 😀", all_day=True)
    calendar.catch_up()
    url = calendar.new_feed(member)
    written = calendar.context.renderer

    for format, kind in (("events", "VEVENT"), ("todos", "VTODO")):
        body = calendar.get(url + ("?format=todos" if format == "todos" else "")).data
        with calendar.context.database.session() as session:
            rows = session.execute(
                select(MirrorTask, MirrorCard)
                .join(MirrorCard, MirrorCard.id == MirrorTask.card_id)
                .order_by(MirrorTask.due, MirrorTask.id)
            ).all()
            expected = "".join(
                with_icalendar(written, kind, task, card, "en") for task, card in rows
            )
        assert expected in body.decode()
        parsed = vobject.readOne(body.decode())
        components = parsed.contents[kind.lower()]
        assert len(components) == 2 == len(Calendar.from_ical(body).walk(kind))
        assert components[0].summary.value.startswith("Call, Ana; back then ")
        assert components[1].summary.value == "Ședință 😀 — " + deal["title"]


@pytest.mark.parametrize("kind", ["VEVENT", "VTODO"])
def test_a_feed_written_as_text_is_the_calendar_icalendar_builds(kind):
    """The whole calendar a feed serves, against one built with icalendar alone (the
    components added to icalendar's ``Calendar``): parsed back by icalendar, the same
    calendar properties and the same components with the same properties, in every language."""
    written = renderer()
    pairs = [(task, card) for task, card in CASES]
    for language in languages():
        texts = written.render_many(kind, pairs, language)
        body = written.calendar_of_bytes(
            [text.encode() for text in texts],
            name="cardcrm tasks (Ana Știr)",
            timezone="Europe/Bucharest",
        )
        whole = written._published("cardcrm tasks (Ana Știr)", "Europe/Bucharest")
        for task_, card_ in pairs:
            component = Event() if kind == "VEVENT" else Todo()
            whole.add_component(written.component(component, task_, card_, None, language))
        built = whole.to_ical(sorted=False)
        assert body == built, language
        ours, theirs = Calendar.from_ical(body), Calendar.from_ical(built)
        assert list(ours.property_items(recursive=False)) == list(
            theirs.property_items(recursive=False)
        )
        assert len(ours.walk(kind)) == len(pairs) == len(theirs.walk(kind))
        for mine, reference in zip(ours.walk(kind), theirs.walk(kind), strict=True):
            text = mine.to_ical(sorted=False).decode()
            assert properties_by_icalendar(text) == properties_by_icalendar(
                reference.to_ical(sorted=False).decode()
            )


def test_instants_in_any_zone_are_written_in_utc():
    """Deadlines and changes come from the database in UTC, but anything aware is taken."""
    zone = ZoneInfo("Europe/Bucharest")
    moment = datetime(2026, 10, 25, 3, 45, fold=1, tzinfo=zone)  # the second 03:45 that night
    assert utc_text(moment) == "20261025T014500Z"
    assert utc_text(moment.astimezone(UTC)) == "20261025T014500Z"
    assert utc_text(datetime(1, 1, 1, tzinfo=UTC)) == "00010101T000000Z"
    assert date_text(date(987, 6, 5)) == "09870605"
    event = renderer().render("VEVENT", *CASES[[t.id for t, _ in CASES].index(26)])
    assert "DTSTART:20261025T004500Z\r\nDTEND:20261025T011500Z\r\n" in event


def test_short_and_long_lines_fold_as_icalendar_folds_them():
    """Lines of 74 octets stay whole; one more octet, or a character of two octets among 74
    characters, folds; never inside a character."""
    for line in ("S" * 74, "S" * 75, "ș" * 37, "ș" * 38, "S" * 73 + "ș", "ț" * 200, "😀" * 40):
        assert fold_line(line) == _foldline(line), line
        for piece in fold_line(line).split("\r\n"):
            assert len(piece.encode()) <= 75


def test_a_uid_given_is_escaped_as_icalendar_escapes_it():
    """The CalDAV server keeps the UID a client gave its to-do, whatever it holds."""
    written = renderer()
    task_, card_ = CASES[0]
    for uid in ("a,b;c\\d@example.com", "ș" * 60, "plain-uid"):
        for kind in ("VEVENT", "VTODO"):
            text = written.render(kind, task_, card_, uid=uid)
            built = written.component(Event() if kind == "VEVENT" else Todo(), task_, card_, uid)
            assert text == built.to_ical(sorted=False).decode()
