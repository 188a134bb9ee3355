"""The Today view: four totals and the task list, in whole days of the user's time zone."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest


def today_in(zone):
    return datetime.now(ZoneInfo(zone)).date()


def view(api, start=None, end=None):
    query = "&".join(
        part for part in (f"from={start}" if start else "", f"to={end}" if end else "") if part
    )
    return api.ok("GET", f"today?{query}")


@pytest.fixture
def product(admin):
    return admin.product("sales")


@pytest.fixture
def card(admin, product):
    return admin.card(product, "ACME")


@pytest.fixture
def teammate(admin, product, new_user):
    """A new user who is a member of the product the tasks are on."""

    def make(email, **options):
        user = new_user(email, **options)
        admin.grant(product, user)
        return user

    return make


def test_a_task_due_2330_local_is_today_and_0030_tomorrow_is_not(teammate, card):
    ana = teammate("ana@example.com", timezone="Europe/Bucharest")
    ana.task(card, "2026-12-01T23:30:00+02:00", "late tonight")  # 21:30Z on the 1st
    ana.task(card, "2026-12-02T00:30:00+02:00", "just after midnight")  # 22:30Z on the 1st
    ana.task(card, "2026-12-01T00:10:00+02:00", "just after last midnight")  # 22:10Z on Nov 30th
    result = view(ana, "2026-12-01", "2026-12-01")
    assert result["period"] == {
        "from": "2026-12-01",
        "to": "2026-12-01",
        "timezone": "Europe/Bucharest",
    }
    assert [task["text"] for task in result["tasks"]] == [
        "just after last midnight",
        "late tonight",
    ]
    assert result["totals"]["due"] == 2
    assert view(ana, "2026-12-02", "2026-12-02")["totals"]["overdue"] == 2


def test_a_day_when_the_clocks_change_has_its_real_length(teammate, card):
    ana = teammate("ana@example.com", timezone="Europe/Bucharest")
    # 2026-10-25 has 25 hours in Bucharest: it runs from 21:00Z on the 24th to 22:00Z on the 25th.
    ana.task(card, "2026-10-25T00:15:00+03:00", "first minutes")
    ana.task(card, "2026-10-25T23:30:00+02:00", "last half hour")  # 21:30Z: a 24-hour day misses it
    ana.task(card, "2026-10-24T23:59:00+03:00", "the day before")
    ana.task(card, "2026-10-26T00:00:00+02:00", "the day after")
    result = view(ana, "2026-10-25", "2026-10-25")
    assert [task["text"] for task in result["tasks"] if not task["overdue"]] == [
        "first minutes",
        "last half hour",
    ]
    assert result["totals"]["due"] == 2 and result["totals"]["overdue"] == 1


@pytest.mark.parametrize(
    ("zone", "inside", "outside"),
    [
        ("Pacific/Auckland", "2026-12-01T10:30:00Z", "2026-12-01T11:00:00Z"),  # NZDT is UTC+13
        ("America/Los_Angeles", "2026-12-02T07:59:00Z", "2026-12-02T08:00:00Z"),  # PST is UTC-8
    ],
)
def test_users_far_from_utc_get_their_own_day(teammate, card, zone, inside, outside):
    user = teammate("far@example.com", timezone=zone)
    user.task(card, inside, "inside")
    user.task(card, outside, "outside")
    due = [
        task["text"]
        for task in view(user, "2026-12-01", "2026-12-01")["tasks"]
        if not task["overdue"]
    ]
    assert due == ["inside"]


def test_all_day_tasks_count_on_their_date(teammate, card):
    user = teammate("la@example.com", timezone="America/Los_Angeles")
    user.task(card, "2026-12-01", "all day on the 1st", all_day=True)
    user.task(card, "2026-11-30", "all day on the 30th", all_day=True)
    result = view(user, "2026-12-01", "2026-12-01")
    assert result["totals"] == {"due": 1, "overdue": 1, "closed": 0, "postponed": 0}
    assert [(task["text"], task["overdue"]) for task in result["tasks"]] == [
        ("all day on the 30th", True),
        ("all day on the 1st", False),
    ]


def test_the_list_shows_overdue_first_with_card_product_and_status(admin, card):
    admin.task(card, "2026-12-03T09:00:00Z", "in period later")
    admin.task(card, "2026-11-20T09:00:00Z", "overdue")
    admin.task(card, "2026-12-02T09:00:00Z", "in period")
    admin.task(card, "2026-12-10T09:00:00Z", "after the period")
    result = view(admin, "2026-12-02", "2026-12-04")
    assert [(task["text"], task["overdue"]) for task in result["tasks"]] == [
        ("overdue", True),
        ("in period", False),
        ("in period later", False),
    ]
    first = result["tasks"][0]
    assert first["card"] == {"id": card["id"], "title": "ACME"}
    assert first["product"]["id"] == card["product_id"]
    assert first["card_status"]["group"] == "inactive"
    assert result["totals"] == {"due": 2, "overdue": 1, "closed": 0, "postponed": 0}


def test_only_the_callers_tasks_count(admin, member, product, card):
    admin.grant(product, member)
    admin.task(card, "2026-12-02T09:00:00Z", "mine")
    admin.task(card, "2026-12-02T10:00:00Z", "theirs", assignee_id=member.user.id)
    assert view(admin, "2026-12-02", "2026-12-02")["totals"]["due"] == 1
    assert [task["text"] for task in view(member, "2026-12-02", "2026-12-02")["tasks"]] == [
        "theirs"
    ]


def test_closed_counts_tasks_done_by_the_user_today_and_not_reopened_or_cancelled(
    admin, member, product, card
):
    admin.grant(product, member)
    today = today_in("UTC")
    due = f"{today}T23:00:00Z"
    done = admin.task(card, due, "done")
    reopened = admin.task(card, due, "closed then reopened")
    cancelled = admin.task(card, due, "cancelled")
    by_other = admin.task(card, due, "closed by someone else")
    admin.ok("POST", f"tasks/{done['id']}/close", {})
    admin.ok("POST", f"tasks/{reopened['id']}/close", {})
    admin.ok("POST", f"tasks/{reopened['id']}/reopen")
    admin.ok("POST", f"tasks/{cancelled['id']}/close", {"outcome": "cancelled"})
    member.ok("POST", f"tasks/{by_other['id']}/close", {})
    totals = view(admin)["totals"]
    assert totals["closed"] == 1
    assert totals["due"] == 1  # the reopened one
    yesterday = today - timedelta(days=1)
    assert view(admin, yesterday, yesterday)["totals"]["closed"] == 0


def test_postponed_counts_tasks_moved_past_the_period_once(admin, card):
    today = today_in("UTC")
    tomorrow = today + timedelta(days=1)
    twice = admin.task(card, f"{today}T10:00:00Z", "postponed twice")
    admin.ok("POST", f"tasks/{twice['id']}/postpone", {"due": f"{tomorrow}T10:00:00Z"})
    admin.ok("POST", f"tasks/{twice['id']}/postpone", {"due": f"{tomorrow}T12:00:00Z"})
    inside = admin.task(card, f"{today}T08:00:00Z", "postponed within the period")
    admin.ok("POST", f"tasks/{inside['id']}/postpone", {"due": f"{today}T23:00:00Z"})
    assert view(admin)["totals"]["postponed"] == 1
    # Over a two-day period, moving to tomorrow stays inside it: not postponed.
    assert view(admin, today, tomorrow)["totals"]["postponed"] == 0


def test_the_default_period_is_today_in_the_users_zone(new_user):
    user = new_user("nz@example.com", timezone="Pacific/Auckland")
    period = view(user)["period"]
    assert period["from"] == period["to"] == today_in("Pacific/Auckland").isoformat()


def test_tasks_of_trashed_cards_count_nowhere(admin, card):
    admin.task(card, "2026-12-02T09:00:00Z")
    admin.delete(f"cards/{card['id']}")
    assert view(admin, "2026-12-02", "2026-12-02")["totals"]["due"] == 0
    admin.ok("POST", f"cards/{card['id']}/restore")
    assert view(admin, "2026-12-02", "2026-12-02")["totals"]["due"] == 1


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-12-05&to=2026-12-01",
        "from=2026-01-01&to=2027-01-02",
        "from=yesterday",
        "to=2026-02-30",
    ],
)
def test_a_bad_period_is_a_422(admin, query):
    response = admin.get(f"today?{query}")
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"


def test_a_period_of_366_days_is_allowed(admin):
    assert admin.get("today?from=2028-01-01&to=2028-12-31").status_code == 200


def test_long_lists_page_with_a_cursor(admin, card):
    for day in range(1, 8):
        admin.task(card, f"2026-12-{day:02d}T09:00:00Z", f"task {day}")
    first = admin.ok("GET", "today?from=2026-12-04&to=2026-12-07&limit=4")
    second = admin.ok(
        "GET", f"today?from=2026-12-04&to=2026-12-07&limit=4&cursor={first['next_cursor']}"
    )
    texts = [task["text"] for task in first["tasks"] + second["tasks"]]
    assert texts == [f"task {day}" for day in range(1, 8)]
    assert second["next_cursor"] is None


def test_the_today_list_shows_tasks_exactly_as_the_task_api_does(admin, card):
    admin.task(
        card, "2026-12-01T09:00:00+02:00", "timed", repeat={"freq": "weekly", "weekdays": ["TU"]}
    )
    done = admin.task(card, "2026-12-01T10:00:00Z", "closed one")
    admin.ok("POST", f"tasks/{done['id']}/close", {})
    admin.ok("POST", f"tasks/{done['id']}/reopen")
    admin.task(card, "2026-12-01", "all day", all_day=True)
    for item in view(admin, "2026-12-01", "2026-12-01")["tasks"]:
        listed = {
            key: value
            for key, value in item.items()
            if key not in ("card", "product", "card_status", "overdue")
        }
        assert listed == admin.ok("GET", f"tasks/{item['id']}")
