"""The daily digest: each user's Today view at their own local time, once per local date,
with the clock moved by the test across time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cardcrm.notifications.digest import next_digest_at

from .helpers import iso, sales_card


def digests_of(api):
    return [item for item in api.inbox() if item["rule"] == "daily_digest"]


def test_each_user_gets_the_digest_at_their_own_local_time_once_per_local_date(
    admin, new_user, notifications, worker, clock
):
    tokyo = new_user("kenji@example.com", timezone="Asia/Tokyo")  # UTC+9
    lisbon = new_user("ines@example.com", timezone="Europe/Lisbon")  # UTC+0 in winter
    clock.set(datetime(2026, 11, 26, 20, 0, tzinfo=UTC))
    for user in (tokyo, lisbon):
        notifications(user).preferences(daily_digest_at="08:00", assigned=False)
    card = sales_card(admin, tokyo)
    # Friday 27 November in Tokyo begins at 15:00 UTC on the 26th
    tokyo.task(card, "2026-11-27T10:00:00+09:00", "Meet Sato-san")
    tokyo.task(card, "2026-11-28T10:00:00+09:00", "Tomorrow's")

    clock.set(datetime(2026, 11, 26, 22, 59, tzinfo=UTC))  # 07:59 in Tokyo
    worker.drain()
    assert digests_of(notifications(tokyo)) == []

    clock.set(datetime(2026, 11, 26, 23, 0, tzinfo=UTC))  # 08:00 in Tokyo, 23:00 in Lisbon
    worker.drain()
    [digest] = digests_of(notifications(tokyo))
    assert digest["title"] == "Your day, Fri 27 Nov: 1 due, 0 overdue"
    assert "Meet Sato-san" in digest["text"] and "Tomorrow's" not in digest["text"]
    assert "27 Nov 10:00" in digest["text"]  # the task's time, in Tokyo
    assert digests_of(notifications(lisbon)) == []

    clock.set(datetime(2026, 11, 26, 23, 30, tzinfo=UTC))
    worker.drain()
    clock.set(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))  # 08:00 in Lisbon, 17:00 in Tokyo
    worker.drain()
    assert len(digests_of(notifications(tokyo))) == 1
    [lisbon_digest] = digests_of(notifications(lisbon))
    assert lisbon_digest["title"] == "Your day, Fri 27 Nov: 0 due, 0 overdue"

    clock.set(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # Saturday 08:00 in Tokyo
    worker.drain()
    titles = [item["title"] for item in digests_of(notifications(tokyo))]
    assert titles == [
        "Your day, Sat 28 Nov: 1 due, 1 overdue",  # Friday's meeting is now overdue
        "Your day, Fri 27 Nov: 1 due, 0 overdue",
    ]


def test_a_time_zone_changed_in_core_moves_the_digest_to_the_new_local_time(
    member, notifications, worker, clock
):
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    notifications(member).preferences(daily_digest_at="09:00")  # UTC: tomorrow 09:00 UTC
    member.ok("PATCH", "me", {"timezone": "America/New_York"})  # 09:00 there is 14:00 UTC

    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    worker.drain()
    assert digests_of(notifications(member)) == []
    clock.set(datetime(2026, 11, 27, 14, 0, tzinfo=UTC))
    worker.drain()
    [digest] = digests_of(notifications(member))
    assert "Fri 27 Nov" in digest["title"]
    assert notifications(member).ok("GET", "preferences")["timezone"] == "America/New_York"


def test_a_digest_missed_for_a_whole_day_is_not_sent_late(member, notifications, worker, clock):
    clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    notifications(member).preferences(daily_digest_at="07:00")
    clock.set(datetime(2026, 11, 28, 6, 0, tzinfo=UTC))  # down from the 26th to the 28th
    worker.drain()
    assert digests_of(notifications(member)) == []
    clock.set(datetime(2026, 11, 28, 7, 0, tzinfo=UTC))
    worker.drain()
    [digest] = digests_of(notifications(member))
    assert "Sat 28 Nov" in digest["title"]


def test_the_digest_counts_what_was_closed_and_postponed_today_and_lists_overdue_tasks(
    admin, member, notifications, worker, clock, smtp
):
    now = datetime.now(UTC)
    clock.set(now.replace(hour=0, minute=0, second=0, microsecond=0))
    notifications(member).preferences(daily_digest_at="23:59", email=member.user.email)
    card = sales_card(admin, member)
    member.task(card, iso(now - timedelta(days=3)), "Very late")
    done = member.task(card, iso(now + timedelta(hours=1)), "Done today")
    member.ok("POST", f"tasks/{done['id']}/close", {})
    moved = member.task(card, iso(now + timedelta(hours=1)), "Moved on")
    member.ok("POST", f"tasks/{moved['id']}/postpone", {"due": iso(now + timedelta(days=2))})

    clock.set(clock.now.replace(hour=23, minute=59))
    worker.drain()
    [message] = smtp.wait_for(1)
    assert message["Subject"].endswith(": 0 due, 1 overdue")
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "0 due, 1 overdue, 1 closed, 1 postponed" in text
    assert "- overdue, " in text and "Very late — ACME renewal (" in text
    assert "Done today" not in text and "Moved on" not in text


def test_the_next_digest_is_the_next_local_time_strictly_after_now():
    after = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night Lisbon springs forward
    assert next_digest_at(after, "01:30", "Europe/Lisbon") == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )
    assert next_digest_at(after, "00:30", "UTC") == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)
    assert next_digest_at(after, "09:00", "Asia/Tokyo") == datetime(2026, 3, 30, 0, 0, tzinfo=UTC)
