"""The iCal feed in its owner's language: the calendar's name is said in the owner's profile
language, and each feed keeps its bytes (and ETag) while other feeds of the same tasks are
served in other languages."""

from __future__ import annotations

from .conftest import CORE_PUBLIC_URL


def test_a_romanian_users_feed_has_a_romanian_calendar_name(calendar, admin, member, sales):
    member.ok("PATCH", "me", {"language": "ro"})
    deal = member.card(sales, "ACME: 40 chairs")
    member.task(deal, "2026-12-01T09:30:00+01:00", "Sună-l pe Ion")
    calendar.catch_up()

    served = calendar.feed(calendar.new_feed(member))

    assert served["NAME"] == served["X-WR-CALNAME"] == "Sarcini cardcrm (Member)"
    (event,) = served.walk("VEVENT")
    assert f"Card: ACME: 40 chairs\n{CORE_PUBLIC_URL}/cards/{deal['id']}" in event["DESCRIPTION"]
    # An English user's feed of the same task stays English.
    english = calendar.feed(calendar.new_feed(admin))
    assert english["X-WR-CALNAME"] == "cardcrm tasks (Admin)"


def test_feeds_in_two_languages_of_the_same_tasks_keep_their_own_bytes(
    calendar, admin, member, sales
):
    member.ok("PATCH", "me", {"language": "ro"})
    deal = member.card(sales, "ACME: 40 chairs")
    member.task(deal, "2026-12-01T09:30:00+01:00", "Sună-l pe Ion")
    calendar.catch_up()
    romanian_url, english_url = calendar.new_feed(member), calendar.new_feed(admin)

    first = calendar.get(romanian_url)
    english = calendar.get(english_url)  # the admin sees the same task, rendered in English
    second = calendar.get(romanian_url)

    assert b"Sarcini cardcrm" in first.data and b"cardcrm tasks" in english.data
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    assert calendar.get(romanian_url, **{"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert english.headers["ETag"] != first.headers["ETag"]
