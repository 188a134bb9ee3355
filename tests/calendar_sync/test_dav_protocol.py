"""The CalDAV server, spoken to through the calendar app's test client: discovery, what the
collections hold, the reports, sync tokens and the checks of writes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import vobject
from cardcrm.calendar_sync.dav import views
from icalendar import Calendar

from .dav_helpers import NS, PREFIX, Dav, dav_user, found, hrefs, missing, xml


@pytest.fixture
def dav_users(calendar: Any, monkeypatch: pytest.MonkeyPatch) -> dict[int, dict[str, Any]]:
    """Who the DAV auth says is asking: the user named by a test header (the app passwords are
    the auth module's, tested there and in the end-to-end tests)."""
    from flask import request

    known: dict[int, dict[str, Any]] = {}

    def current_user() -> dict[str, Any]:
        user = known.get(int(request.headers.get("X-Test-Dav-User", "0")))
        if user is None:
            raise views.DavError(401, "Who are you?", None, {"WWW-Authenticate": "Basic"})
        return user

    monkeypatch.setattr(views, "current_dav_user", current_user)
    return known


@pytest.fixture
def as_user(calendar: Any, dav_users: dict) -> Any:
    def make(api: Any) -> Dav:
        user = dav_user(api)
        dav_users[user["id"]] = user
        return Dav(calendar.client, user)

    return make


@pytest.fixture
def deal(member: Any, sales: dict) -> dict:
    return member.card(sales, "ACME: 40 chairs")


def test_options_advertise_caldav(calendar):
    response = calendar.client.open("/dav/", method="OPTIONS")

    assert response.status_code == 200
    assert response.headers["DAV"] == "1, 3, calendar-access"
    assert "REPORT" in response.headers["Allow"]


def test_discovery_leads_from_the_root_to_both_collections(calendar, member, as_user):
    dav = as_user(member)
    user_id = member.user.id

    root = xml(dav.propfind(f"{PREFIX}/", ["D:current-user-principal"]))
    principal = found(root, f"{PREFIX}/")["D:current-user-principal"]
    principal_href = principal.findtext("D:href", namespaces=NS)
    assert principal_href == f"{PREFIX}/principals/{user_id}/"

    props = xml(dav.propfind(principal_href, ["C:calendar-home-set", "D:displayname"]))
    home = found(props, principal_href)["C:calendar-home-set"].findtext("D:href", namespaces=NS)
    assert home == dav.home
    assert found(props, principal_href)["D:displayname"].text == "Member"

    wanted = [
        "D:resourcetype",
        "D:displayname",
        "C:supported-calendar-component-set",
        "CS:getctag",
        "D:sync-token",
        "A:calendar-color",
        "D:current-user-principal",
        "D:getetag",
        "D:unknown-thing",
    ]
    listing = xml(dav.propfind(home, wanted, depth="1"))
    assert hrefs(listing) == [home, dav.collection("tasks"), dav.collection("deadlines")]
    for name, component, display in (
        ("tasks", "VTODO", "Tasks"),
        ("deadlines", "VEVENT", "Deadlines"),
    ):
        props = found(listing, dav.collection(name))
        assert props["D:resourcetype"].find("C:calendar", NS) is not None
        assert props["D:resourcetype"].find("D:collection", NS) is not None
        assert props["D:displayname"].text == display
        comps = props["C:supported-calendar-component-set"].findall("C:comp", NS)
        assert [comp.get("name") for comp in comps] == [component]
        assert props["CS:getctag"].text == props["D:sync-token"].text
        assert props["A:calendar-color"].text.startswith("#")
        assert missing(listing, dav.collection(name)) == {"D:unknown-thing"}
    # Depth 0 is the resource alone
    assert hrefs(xml(dav.propfind(home, ["D:resourcetype"]))) == [home]


def test_each_collection_holds_the_open_tasks_with_strong_etags(calendar, member, deal, as_user):
    timed = member.task(deal, "2026-12-01T09:30:00+01:00", "Call Ana back")
    all_day = member.task(deal, "2026-12-03", "Send the offer", all_day=True)
    calendar.catch_up()
    dav = as_user(member)

    for collection, component in (("tasks", "VTODO"), ("deadlines", "VEVENT")):
        listing = xml(dav.propfind(dav.collection(collection), ["D:getetag"], depth="1"))
        objects = [href for href in hrefs(listing) if href.endswith(".ics")]
        assert sorted(objects) == sorted(
            f"{dav.collection(collection)}{task['id']}.ics" for task in (timed, all_day)
        )
        for href in objects:
            response = dav.request("GET", href)
            assert response.status_code == 200
            assert response.mimetype == "text/calendar"
            etag = '"' + hashlib.sha256(response.data).hexdigest()[:32] + '"'
            assert response.headers["ETag"] == etag == found(listing, href)["D:getetag"].text
            (parsed,) = Calendar.from_ical(response.data).walk(component)
            assert str(parsed["UID"]).startswith("task-")
            again = vobject.readOne(response.data.decode())
            assert len(getattr(again, component.lower() + "_list")) == 1
        whole = dav.request("GET", dav.collection(collection))
        assert len(Calendar.from_ical(whole.data).walk(component)) == 2


def test_calendar_query_filters_by_component_and_time_range(calendar, member, deal, as_user):
    early = member.task(deal, "2026-12-01T09:30:00Z", "Early")
    member.task(deal, "2026-12-20T09:30:00Z", "Late")
    calendar.catch_up()
    dav = as_user(member)

    def query(collection: str, component: str, time_range: str = "") -> list[str]:
        body = (
            '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            "<D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter>"
            f'<C:comp-filter name="VCALENDAR"><C:comp-filter name="{component}">{time_range}'
            "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
        )
        tree = xml(dav.report(dav.collection(collection), body))
        for href in hrefs(tree):
            assert "BEGIN:" + component in found(tree, href)["C:calendar-data"].text
        return hrefs(tree)

    assert len(query("tasks", "VTODO")) == 2
    assert query("tasks", "VEVENT") == []
    window = '<C:time-range start="20261130T000000Z" end="20261202T000000Z"/>'
    assert query("tasks", "VTODO", window) == [f"{dav.collection('tasks')}{early['id']}.ics"]
    assert query("deadlines", "VEVENT", window) == [
        f"{dav.collection('deadlines')}{early['id']}.ics"
    ]


def test_multiget_answers_each_href_and_404_for_the_unknown(calendar, member, deal, as_user):
    task = member.task(deal, "2026-12-01T09:30:00Z")
    calendar.catch_up()
    dav = as_user(member)
    known = f"{dav.collection('tasks')}{task['id']}.ics"
    unknown = f"{dav.collection('tasks')}999999.ics"

    tree = xml(
        dav.report(
            dav.collection("tasks"),
            '<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>{known}</D:href>"
            f"<D:href>{unknown}</D:href></C:calendar-multiget>",
        )
    )

    assert "VTODO" in found(tree, known)["C:calendar-data"].text
    gone = [
        item
        for item in tree.findall("D:response", NS)
        if item.findtext("D:href", namespaces=NS) == unknown
    ]
    assert "404" in gone[0].findtext("D:status", namespaces=NS)


def test_sync_collection_reports_changes_and_removals_since_a_token(
    calendar, member, admin, deal, sales, as_user, new_user
):
    first = member.task(deal, "2026-12-01T09:30:00Z", "First")
    second = member.task(deal, "2026-12-02T09:30:00Z", "Second")
    calendar.catch_up()
    dav = as_user(member)
    tasks = dav.collection("tasks")

    everything, token, _ = dav.sync("tasks")
    assert set(everything) == {f"{tasks}{first['id']}.ics", f"{tasks}{second['id']}.ics"}
    nothing, same, _ = dav.sync("tasks", token)
    assert nothing == {} and same == token

    member.ok("PATCH", f"tasks/{first['id']}", {"text": "First, again"})
    other = new_user("other@example.com")
    admin.grant(sales, other)
    member.ok("PATCH", f"tasks/{second['id']}", {"assignee_id": other.user.id})
    calendar.catch_up()

    changes, newer, _ = dav.sync("tasks", token)
    assert newer != token
    assert changes[f"{tasks}{second['id']}.ics"] is None  # reassigned: gone
    assert changes[f"{tasks}{first['id']}.ics"] != everything[f"{tasks}{first['id']}.ics"]
    # the other collection shares the log
    assert set(dav.sync("deadlines", token)[0]) == {
        f"{dav.collection('deadlines')}{first['id']}.ics",
        f"{dav.collection('deadlines')}{second['id']}.ics",
    }


def test_a_foreign_or_stale_sync_token_is_refused(calendar, member, as_user):
    dav = as_user(member)
    for token in ("http://example.com/ns/sync/1", "urn:cardcrm:dav:sync:99999-1-abc"):
        _, _, response = dav.sync("tasks", token)
        assert response.status_code == 403
        assert b"valid-sync-token" in response.data


def test_completed_tasks_stay_completed_for_seven_days(calendar, member, deal, as_user):
    task = member.task(deal, "2026-12-01T09:30:00Z", "Done soon")
    calendar.catch_up()
    dav = as_user(member)
    _, token, _ = dav.sync("tasks")
    member.ok("POST", f"tasks/{task['id']}/close", {})
    calendar.catch_up()

    href = f"{dav.collection('tasks')}{task['id']}.ics"
    changes, token, _ = dav.sync("tasks", token)
    assert changes[href] is not None
    (todo,) = Calendar.from_ical(dav.request("GET", href).data).walk("VTODO")
    assert todo["STATUS"] == "COMPLETED"
    assert todo["PERCENT-COMPLETE"] == 100
    assert todo["COMPLETED"].dt <= datetime.now(UTC)
    event_href = f"{dav.collection('deadlines')}{task['id']}.ics"
    assert dav.request("GET", event_href).status_code == 200

    later = datetime.now(UTC) + timedelta(days=9)
    calendar.context.clock = lambda: later
    changes, _, _ = dav.sync("tasks", token)
    assert changes == {href: None}
    assert dav.request("GET", href).status_code == 404


def test_another_users_collections_are_not_found(calendar, member, deal, as_user, new_user):
    task = member.task(deal, "2026-12-01T09:30:00Z")
    calendar.catch_up()
    other = as_user(new_user("other@example.com"))
    mine = as_user(member)

    for path in (
        mine.home,
        mine.collection("tasks"),
        f"{mine.collection('tasks')}{task['id']}.ics",
    ):
        assert other.propfind(path, ["D:getetag"]).status_code == 404
        assert other.request("GET", path).status_code == 404
    assert other.request("PUT", f"{mine.collection('tasks')}1.ics", b"x").status_code == 404


def test_a_member_limited_to_own_cards_sees_only_theirs(calendar, admin, sales, new_user, as_user):
    limited = new_user("limited@example.com")
    admin.grant(sales, limited, own_cards_only=True)
    own = admin.card(sales, "Theirs", owner_id=limited.user.id)
    someone_elses = admin.card(sales, "Not theirs", owner_id=admin.user.id)
    visible = admin.task(own, "2026-12-01T09:30:00Z", assignee_id=limited.user.id)
    admin.task(someone_elses, "2026-12-01T09:30:00Z", assignee_id=limited.user.id)
    calendar.catch_up()
    dav = as_user(limited)

    listing = xml(dav.propfind(dav.collection("tasks"), ["D:getetag"], depth="1"))
    assert [href for href in hrefs(listing) if href.endswith(".ics")] == [
        f"{dav.collection('tasks')}{visible['id']}.ics"
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"<not xml",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
        b'&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<D:propfind xmlns:D="DAV:"><D:prop><D:x>&c;</D:x></D:prop></D:propfind>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<D:propfind xmlns:D="DAV:"><D:prop><D:x>&e;</D:x></D:prop></D:propfind>',
        b'<D:sync-collection xmlns:D="DAV:"/>',
    ],
)
def test_hostile_xml_is_a_400_or_a_multistatus_never_a_500(calendar, member, as_user, body):
    dav = as_user(member)
    for method in ("PROPFIND", "REPORT"):
        response = dav.request(method, dav.collection("tasks"), body, Depth="1")
        assert response.status_code < 500
        assert b"root:" not in response.data


def test_stale_etags_and_if_none_match_star_refuse_writes(calendar, member, deal, as_user):
    task = member.task(deal, "2026-12-01T09:30:00Z")
    calendar.catch_up()
    dav = as_user(member)
    href = f"{dav.collection('tasks')}{task['id']}.ics"
    body = dav.request("GET", href).data

    assert dav.request("PUT", href, body, If_Match='"stale"').status_code == 412
    assert dav.request("PUT", href, body, If_None_Match="*").status_code == 412
    assert dav.request("DELETE", href, If_Match='"stale"').status_code == 412
    assert dav.request("GET", href).data == body


class Refusal(Exception):
    def __init__(self, status: int, condition: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.condition, self.message = status, condition, message


@pytest.fixture
def core_writes(member: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """A stand-in of ``dav/writes.py`` (its own change) that changes the task in core for real:
    a PUT renames it to its SUMMARY, a DELETE deletes it; a SUMMARY of "refuse" is refused."""
    import sys
    import types

    calls: list[tuple] = []
    module = types.ModuleType("cardcrm.calendar_sync.dav.writes")

    def apply_put(user: dict, collection: str, current: dict | None, body: bytes) -> dict:
        calls.append(("put", collection, current and current["id"]))
        (todo,) = Calendar.from_ical(body).walk("VTODO")
        if str(todo["SUMMARY"]).startswith("refuse"):
            raise Refusal(
                403, "{urn:ietf:params:xml:ns:caldav}valid-calendar-data", "Not like that."
            )
        assert current is not None
        return member.ok("PATCH", f"tasks/{current['id']}", {"text": str(todo["SUMMARY"])})

    def apply_delete(user: dict, current: dict) -> dict:
        calls.append(("delete", current["id"]))
        member.ok("DELETE", f"tasks/{current['id']}", status=204)
        return {**current, "deleted": True}

    module.apply_put, module.apply_delete, module.DavRefusal = apply_put, apply_delete, Refusal  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return calls


def test_a_write_shows_at_once_and_its_etag_is_not_the_clients(
    calendar, member, deal, as_user, core_writes
):
    task = member.task(deal, "2026-12-01T09:30:00Z", "Old text")
    calendar.catch_up()
    dav = as_user(member)
    href = f"{dav.collection('tasks')}{task['id']}.ics"
    before = dav.request("GET", href)
    _, token, _ = dav.sync("tasks")
    sent = before.data.replace(b"SUMMARY:Old text", b"SUMMARY:New text")

    response = dav.request("PUT", href, sent, If_Match=before.headers["ETag"])

    assert response.status_code == 204
    assert "ETag" not in response.headers  # the stored bytes are cardcrm's, not the client's
    after = dav.request("GET", href)
    (todo,) = Calendar.from_ical(after.data).walk("VTODO")
    assert str(todo["SUMMARY"]).startswith("New text")
    assert dav.sync("tasks", token)[0] == {href: after.headers["ETag"]}
    calendar.catch_up()  # core's event of the same change changes nothing more
    assert dav.request("GET", href).headers["ETag"] == after.headers["ETag"]

    refused = dav.request("PUT", href, sent.replace(b"SUMMARY:New text", b"SUMMARY:refuse"))
    assert refused.status_code == 403
    assert b"valid-calendar-data" in refused.data

    assert dav.request("DELETE", href, If_Match=after.headers["ETag"]).status_code == 204
    assert dav.request("GET", href).status_code == 404
    assert core_writes[-1] == ("delete", task["id"])


def test_the_collections_are_named_in_the_users_language(calendar, member, dav_users):
    user = {**dav_user(member), "language": "ro"}
    dav_users[user["id"]] = user
    dav = Dav(calendar.client, user)

    listing = xml(dav.propfind(dav.home, ["D:displayname"], depth="1"))

    assert found(listing, dav.collection("tasks"))["D:displayname"].text == "Sarcini"
    assert found(listing, dav.collection("deadlines"))["D:displayname"].text == "Termene"


def test_a_kept_answer_is_never_served_after_a_change(calendar, member, deal, as_user):
    tasks = [
        member.task(deal, f"2026-12-{day:02d}T09:30:00Z", f"Task {day}") for day in range(1, 26)
    ]
    calendar.catch_up()
    dav = as_user(member)
    body = (
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter>"
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter>'
        "</C:filter></C:calendar-query>"
    )
    first = dav.report(dav.collection("tasks"), body)
    assert len(first.data) > 16 * 1024  # big enough to be kept
    assert dav.report(dav.collection("tasks"), body).data == first.data

    member.ok("PATCH", f"tasks/{tasks[0]['id']}", {"text": "Renamed"})
    calendar.catch_up()

    after = dav.report(dav.collection("tasks"), body)
    assert b"SUMMARY:Renamed" in after.data and b"SUMMARY:Task 1 " not in after.data
