"""The multistatus writer's fast path for calendar-query answers writes what its general path
writes, escaping included."""

from __future__ import annotations

from cardcrm.calendar_sync.dav.xml import CALDAV, DAV, Multistatus, name, text_element


def test_many_objects_are_written_as_one_by_one():
    objects = [
        (1, '"abc"', b"BEGIN:VCALENDAR\r\nSUMMARY:Tom & Jerry <3 > all\r\nEND:VCALENDAR\r\n"),
        (22, '"d&e"', "BEGIN:VCALENDAR\r\nSUMMARY:Ștefan — țuică\r\n".encode()),
    ]
    missing = [name(DAV, "displayname"), name("urn:x", "odd")]
    prefix = "/dav/calendars/1/tasks & more/"
    fast, slow = Multistatus(), Multistatus()

    fast.add_calendar_data(prefix, objects, missing)
    for task_id, etag, body in objects:
        found = [
            text_element("D", "getetag", etag),
            text_element("C", "calendar-data", body.decode()),
        ]
        slow.add(f"{prefix}{task_id}.ics", found, missing)

    assert fast.body() == slow.body()
    assert b"Tom &amp; Jerry &lt;3 &gt; all&#13;" in fast.body()
    assert CALDAV in fast.body().decode()


def test_without_missing_properties_there_is_one_propstat():
    fast, slow = Multistatus(), Multistatus()
    fast.add_calendar_data("/t/", [(5, '"x"', b"A\r\n")], [])
    slow.add(
        "/t/5.ics",
        [text_element("D", "getetag", '"x"'), text_element("C", "calendar-data", "A\r\n")],
    )
    assert fast.body() == slow.body()
    assert fast.body().count(b"<D:propstat>") == 1
