"""Recurring tasks: closing an occurrence opens the next, at the same local time."""


def open_tasks(api, card):
    return api.ok("GET", f"cards/{card['id']}/tasks?status=open")["items"]


def test_a_weekly_0900_task_stays_at_0900_local_across_the_clock_change(new_user, admin):
    ana = new_user("ana@example.com", timezone="Europe/Bucharest")
    product = admin.product()
    admin.grant(product, ana)
    card = admin.card(product)
    # Mondays 09:00 in Bucharest: UTC+3 until 2026-10-25, UTC+2 after.
    task = ana.task(card, "2026-10-19T09:00:00+03:00", "Weekly report", repeat={"freq": "weekly"})
    assert task["repeat"]["freq"] == "weekly"
    ana.ok("POST", f"tasks/{task['id']}/close", {})
    [following] = open_tasks(ana, card)
    assert following["due"] == "2026-10-26T07:00:00Z"  # 09:00 EET
    assert following["text"] == "Weekly report" and following["id"] != task["id"]
    assert admin.ok("GET", f"cards/{card['id']}")["next_task_due"] == "2026-10-26T07:00:00Z"


def test_postponing_an_occurrence_does_not_shift_the_series(admin):
    card = admin.card(admin.product())
    task = admin.task(card, "2026-12-01T09:00:00Z", "Daily check", repeat={"freq": "daily"})
    admin.ok("POST", f"tasks/{task['id']}/postpone", {"due": "2026-12-01T15:00:00Z"})
    admin.ok("POST", f"tasks/{task['id']}/close", {})
    [following] = open_tasks(admin, card)
    assert following["due"] == "2026-12-02T09:00:00Z"


def test_weekdays_and_interval(admin):
    card = admin.card(admin.product())
    # Every second week on Monday and Thursday, from Monday 2026-11-30.
    repeat = {"freq": "weekly", "interval": 2, "weekdays": ["MO", "TH"]}
    task = admin.task(card, "2026-11-30T10:00:00Z", "Stand-up", repeat=repeat)
    seen = []
    for _ in range(3):
        admin.ok("POST", f"tasks/{task['id']}/close", {})
        [task] = open_tasks(admin, card)
        seen.append(task["due"][:10])
    assert seen == ["2026-12-03", "2026-12-14", "2026-12-17"]


def test_monthly_all_day_and_the_today_view_sees_the_open_occurrence(admin):
    card = admin.card(admin.product())
    task = admin.task(card, "2026-11-30", "Pay rent", all_day=True, repeat={"freq": "monthly"})
    admin.ok("POST", f"tasks/{task['id']}/close", {})
    [following] = open_tasks(admin, card)
    assert following["all_day"] and following["due_date"] == "2026-12-30"
    texts = [
        item["text"] for item in admin.ok("GET", "today?from=2026-12-30&to=2026-12-30")["tasks"]
    ]
    assert texts == ["Pay rent"]


def test_cancelling_an_occurrence_also_opens_the_next_and_reopening_withdraws_it(admin):
    card = admin.card(admin.product())
    task = admin.task(
        card, "2026-12-01T09:00:00Z", "Water plants", repeat={"freq": "daily", "interval": 3}
    )
    admin.ok("POST", f"tasks/{task['id']}/close", {"outcome": "cancelled"})
    [following] = open_tasks(admin, card)
    assert following["due"] == "2026-12-04T09:00:00Z"
    admin.ok("POST", f"tasks/{task['id']}/reopen")
    assert [item["id"] for item in open_tasks(admin, card)] == [task["id"]]


def test_a_repeat_needs_a_known_frequency(admin):
    card = admin.card(admin.product())
    for repeat in (
        {"freq": "hourly"},
        {"freq": "daily", "weekdays": ["MO"]},
        {"freq": "weekly", "interval": 0},
    ):
        response = admin.post(
            f"cards/{card['id']}/tasks",
            {"text": "x", "due": "2026-12-01T09:00:00Z", "repeat": repeat},
        )
        assert response.status_code == 422


def test_the_next_occurrences_event_says_which_task_it_repeats(app, admin):
    card = admin.card(admin.product())
    task = admin.task(card, "2026-12-01T09:00:00Z", "Daily check", repeat={"freq": "daily"})
    admin.ok("POST", f"tasks/{task['id']}/close", {})
    created = [
        e for e in admin.ok("GET", "events?limit=1000")["items"] if e["type"] == "task.created"
    ]
    assert created[-1]["data"]["repeat_of"] == task["id"]
    assert "repeat_of" not in created[0]["data"]
