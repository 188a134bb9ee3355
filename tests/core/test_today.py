"""The Today view: four totals and the task list, in whole days of the user's time zone.

Overdue means "its deadline has passed" (DESIGN.md §1), so most tests fix the clock through the
app's ``CLOCK`` setting."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest


class FixedClock:
    """The app's clock, set by the test: ``clock.set("2026-12-01T12:00:00Z")``."""

    def __init__(self, at: str) -> None:
        self.set(at)

    def set(self, at: str) -> None:
        self.at = datetime.fromisoformat(at)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(app):
    """Time stands still at noon UTC on Monday 30 November 2026, before the tests' deadlines."""
    fixed = FixedClock("2026-11-30T12:00:00Z")
    app.config["CLOCK"] = fixed
    yield fixed
    app.config.pop("CLOCK", None)


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


def test_a_task_due_2330_local_is_today_and_0030_tomorrow_is_not(teammate, card, clock):
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
    clock.set("2026-12-02T00:05:00+02:00")  # five minutes into the 2nd in Bucharest
    after_midnight = view(ana, "2026-12-02", "2026-12-02")
    assert after_midnight["totals"]["overdue"] == 2
    assert after_midnight["totals"]["due"] == 1
    assert [(task["text"], task["overdue"]) for task in after_midnight["tasks"]] == [
        ("just after last midnight", True),
        ("late tonight", True),
        ("just after midnight", False),
    ]


def test_a_day_when_the_clocks_change_has_its_real_length(teammate, card, clock):
    ana = teammate("ana@example.com", timezone="Europe/Bucharest")
    clock.set("2026-10-25T00:00:00+03:00")  # the first instant of the 25th there
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
def test_users_far_from_utc_get_their_own_day(teammate, card, clock, zone, inside, outside):
    clock.set("2026-11-29T00:00:00Z")
    user = teammate("far@example.com", timezone=zone)
    user.task(card, inside, "inside")
    user.task(card, outside, "outside")
    result = view(user, "2026-12-01", "2026-12-01")
    assert [(task["text"], task["overdue"]) for task in result["tasks"]] == [("inside", False)]


def test_all_day_tasks_count_on_their_date(teammate, card, clock):
    clock.set("2026-12-01T20:00:00Z")  # noon on the 1st in Los Angeles
    user = teammate("la@example.com", timezone="America/Los_Angeles")
    user.task(card, "2026-12-01", "all day on the 1st", all_day=True)
    user.task(card, "2026-11-30", "all day on the 30th", all_day=True)
    result = view(user, "2026-12-01", "2026-12-01")
    assert result["totals"] == {"due": 1, "overdue": 1, "closed": 0, "postponed": 0}
    assert [(task["text"], task["overdue"]) for task in result["tasks"]] == [
        ("all day on the 30th", True),
        ("all day on the 1st", False),
    ]
    clock.set("2026-12-02T07:59:59Z")  # the last second of the 1st in Los Angeles
    assert view(user, "2026-12-01", "2026-12-01")["totals"]["overdue"] == 1
    clock.set("2026-12-02T08:00:00Z")  # its day has ended
    ended = view(user, "2026-12-01", "2026-12-01")
    assert (ended["totals"]["overdue"], ended["totals"]["due"]) == (2, 0)


def test_the_list_shows_overdue_first_with_card_product_and_status(admin, card, clock):
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


def test_only_the_callers_tasks_count(admin, member, product, card, clock):
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
    # All day: never overdue during its day, whatever the hour the test runs at.
    due = today.isoformat()
    done = admin.task(card, due, "done", all_day=True)
    reopened = admin.task(card, due, "closed then reopened", all_day=True)
    cancelled = admin.task(card, due, "cancelled", all_day=True)
    by_other = admin.task(card, due, "closed by someone else", all_day=True)
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


def test_tasks_of_trashed_cards_count_nowhere(admin, card, clock):
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


def test_long_lists_page_with_a_cursor(admin, card, clock):
    clock.set("2026-12-04T00:00:00Z")  # the first three are overdue, the last four due
    for day in range(1, 8):
        admin.task(card, f"2026-12-{day:02d}T09:00:00Z", f"task {day}")
    first = admin.ok("GET", "today?from=2026-12-04&to=2026-12-07&limit=4")
    second = admin.ok(
        "GET", f"today?from=2026-12-04&to=2026-12-07&limit=4&cursor={first['next_cursor']}"
    )
    texts = [task["text"] for task in first["tasks"] + second["tasks"]]
    assert texts == [f"task {day}" for day in range(1, 8)]
    assert second["next_cursor"] is None


def test_the_today_list_shows_tasks_exactly_as_the_task_api_does(admin, card, clock):
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


# --- overdue means "its deadline has passed", whatever period is shown --------------------------

# Wednesday 2 December 2026, 12:00 UTC: "this week" is 30 Nov – 6 Dec, "next week" 7 – 13 Dec.
WEDNESDAY_NOON = "2026-12-02T12:00:00Z"


def texts(result, overdue=None):
    return [
        task["text"] for task in result["tasks"] if overdue is None or task["overdue"] is overdue
    ]


@pytest.fixture
def week(admin, card, clock):
    """The admin's tasks around Wednesday noon (UTC), the clock standing there."""
    clock.set(WEDNESDAY_NOON)
    for due, text in (
        ("2026-12-01T09:00:00Z", "yesterday morning"),
        ("2026-12-02T09:00:00Z", "this morning"),
        ("2026-12-02T15:00:00Z", "this afternoon"),
        ("2026-12-03T10:00:00Z", "tomorrow"),
        ("2026-12-08T10:00:00Z", "next Tuesday"),
        ("2026-11-25T10:00:00Z", "last Wednesday"),
    ):
        admin.task(card, due, text)
    admin.task(card, "2026-12-02", "all day today", all_day=True)
    admin.task(card, "2026-12-01", "all day yesterday", all_day=True)
    return admin


def test_in_a_future_period_a_task_due_tomorrow_is_not_overdue(week):
    result = view(week, "2026-12-07", "2026-12-13")
    assert result["totals"]["overdue"] == 4
    assert result["totals"]["due"] == 1
    assert texts(result, overdue=True) == [
        "last Wednesday",
        "all day yesterday",
        "yesterday morning",
        "this morning",
    ]
    assert texts(result, overdue=False) == ["next Tuesday"]
    assert "tomorrow" not in texts(result)  # not late, and not in the period


def test_in_the_current_period_what_has_passed_is_overdue_and_the_rest_due(week):
    result = view(week, "2026-11-30", "2026-12-06")
    assert result["totals"] == {"due": 3, "overdue": 4, "closed": 0, "postponed": 0}
    # Overdue first, even the timed task of this morning before today's all-day task.
    assert [(task["text"], task["overdue"]) for task in result["tasks"]] == [
        ("last Wednesday", True),
        ("all day yesterday", True),
        ("yesterday morning", True),
        ("this morning", True),
        ("all day today", False),
        ("this afternoon", False),
        ("tomorrow", False),
    ]
    today = view(week, "2026-12-02", "2026-12-02")
    assert today["totals"]["due"] == 2 and today["totals"]["overdue"] == 4


def test_in_a_past_period_nothing_is_due_and_its_open_tasks_are_overdue(week):
    result = view(week, "2026-11-23", "2026-11-29")
    assert (result["totals"]["due"], result["totals"]["overdue"]) == (0, 4)
    assert texts(result, overdue=False) == []
    assert "this afternoon" not in texts(result)  # not passed yet


@pytest.mark.parametrize(
    ("zone", "overdue"),
    [
        ("Pacific/Auckland", True),  # 01:00 on the 3rd there: the 2nd has ended
        ("America/Los_Angeles", False),  # 04:00 on the 2nd there: the day runs on
        ("UTC", False),
    ],
)
def test_an_all_day_task_is_overdue_once_its_day_has_ended_in_the_users_zone(
    teammate, card, clock, zone, overdue
):
    clock.set("2026-12-02T12:00:00Z")
    user = teammate("far@example.com", timezone=zone)
    user.task(card, "2026-12-02", "all day on the 2nd", all_day=True)
    result = view(user, "2026-12-02", "2026-12-02")
    assert [task["overdue"] for task in result["tasks"]] == [overdue]
    assert result["totals"]["overdue"] == int(overdue)
    assert result["totals"]["due"] == int(not overdue)


def test_paging_keeps_the_overdue_tasks_first(week):
    seen, cursor = [], None
    while True:
        query = "today?from=2026-11-30&to=2026-12-06&limit=2" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = week.ok("GET", query)
        seen += [(task["text"], task["overdue"]) for task in page["tasks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [overdue for _, overdue in seen] == [True] * 4 + [False] * 3
    assert len({text for text, _ in seen}) == 7


# --- each total's list (?show=) ----------------------------------------------------------------


def test_show_lists_the_tasks_behind_each_total(week):
    period = "from=2026-11-30&to=2026-12-06"
    due = week.ok("GET", f"today?{period}&show=due")
    assert due["show"] == "due"
    assert texts(due) == ["all day today", "this afternoon", "tomorrow"]
    overdue = week.ok("GET", f"today?{period}&show=overdue")
    assert texts(overdue) == [
        "last Wednesday",
        "all day yesterday",
        "yesterday morning",
        "this morning",
    ]
    assert week.ok("GET", f"today?{period}")["show"] == "tasks"


def test_closed_and_postponed_tasks_of_the_period_stay_listed(admin, card):
    today = today_in("UTC")
    far = today + timedelta(days=30)
    done = admin.task(card, f"{today}T23:00:00Z", "done today")
    cancelled = admin.task(card, f"{today}T23:00:00Z", "cancelled today")
    moved = admin.task(card, f"{today}T23:30:00Z", "moved away")
    admin.ok("POST", f"tasks/{done['id']}/close", {})
    admin.ok("POST", f"tasks/{cancelled['id']}/close", {"outcome": "cancelled"})
    admin.ok("POST", f"tasks/{moved['id']}/postpone", {"due": f"{far}T09:00:00Z"})
    assert texts(view(admin)) == []  # gone from the usual list...
    closed = admin.ok("GET", "today?show=closed")
    assert [(task["text"], task["status"]) for task in closed["tasks"]] == [("done today", "done")]
    assert closed["totals"]["closed"] == 1
    postponed = admin.ok("GET", "today?show=postponed")
    assert [(task["text"], task["due"][:10]) for task in postponed["tasks"]] == [
        ("moved away", far.isoformat())
    ]
    assert postponed["totals"]["postponed"] == 1
    yesterday = today - timedelta(days=1)
    assert admin.ok("GET", f"today?from={yesterday}&to={yesterday}&show=closed")["tasks"] == []


def test_an_unknown_list_is_a_422(admin):
    response = admin.get("today?show=everything")
    assert response.status_code == 422
    assert "show" in response.get_json()["errors"]
