"""Reports on a known data set: the funnel, won and lost, time to won, tasks closed, overdue.

The history's and tasks' times are set in the database after the cards are made through the
API, and the reports' clock is fixed (``CLOCK``), so every figure is known to the cent.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cardcrm.common.db import get_db
from sqlalchemy import text

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOVEMBER = "from=2026-11-01&to=2026-11-30"


@pytest.fixture(autouse=True)
def fixed_clock(app):
    app.config["CLOCK"] = lambda: NOW


def execute(app, sql, **params):
    with app.app_context(), get_db().engine.begin() as connection:
        connection.execute(text(sql), params)


def at(value):
    return datetime.fromisoformat(value).astimezone(UTC)


def status_id(product, name):
    return next(status["id"] for status in product["statuses"] if status["name"] == name)


class Sales:
    """A sales product whose cards were made, moved and dated as a test says."""

    def __init__(self, app, admin):
        self.app, self.admin = app, admin
        self.product = admin.product("sales", name="Sales")

    def card(self, title, created, value=None, owner=None, moves=(), **body):
        fields = {"value": value} if value is not None else {}
        if owner is not None:
            body["owner_id"] = owner
        card = self.admin.card(self.product, title, fields=fields, **body)
        for name, _ in moves:
            self.admin.ok(
                "PATCH", f"cards/{card['id']}", {"status_id": status_id(self.product, name)}
            )
        execute(
            self.app,
            "UPDATE cards SET created_at = :at WHERE id = :id",
            at=at(created),
            id=card["id"],
        )
        rows = (
            "SELECT id FROM card_history"
            " WHERE card_id = :card AND type = 'card.status_changed' ORDER BY id"
        )
        with self.app.app_context(), get_db().engine.connect() as connection:
            ids = [row[0] for row in connection.execute(text(rows), {"card": card["id"]})]
        for history_id, (_, moved) in zip(ids, moves, strict=True):
            execute(
                self.app,
                "UPDATE card_history SET at = :at WHERE id = :id",
                at=at(moved),
                id=history_id,
            )
        return card


@pytest.fixture
def sales(app, admin, member):
    """Cards A-G of the Sales product (see each line); ``member`` may see only own cards."""
    world = Sales(app, admin)
    admin.grant(world.product, member, own_cards_only=True)
    mine, theirs = member.user.id, admin.user.id
    # Won in November: 10 days and 5 days after creation.
    world.card("A", "2026-11-01T00:00:00Z", "1000.00", mine, [("Won", "2026-11-11T00:00:00Z")])
    world.card("B", "2026-11-05T12:00:00Z", "500.50", theirs, [("Won", "2026-11-10T12:00:00Z")])
    # Lost in November.
    world.card("C", "2026-11-02T00:00:00Z", "200.00", theirs, [("Lost", "2026-11-15T00:00:00Z")])
    # Won in October: in the funnel, not in November's outcomes.
    world.card("D", "2026-10-01T00:00:00Z", "300.00", theirs, [("Won", "2026-10-20T00:00:00Z")])
    # Nobody's lead without a value.
    world.card("E", "2026-11-03T00:00:00Z", status_id=status_id(world.product, "Lead"))
    # Won, reopened, then lost, all in November: counts once, as lost.
    world.card(
        "F",
        "2026-11-01T00:00:00Z",
        "50.00",
        theirs,
        [
            ("Won", "2026-11-04T00:00:00Z"),
            ("Negotiation", "2026-11-05T00:00:00Z"),
            ("Lost", "2026-11-06T00:00:00Z"),
        ],
    )
    # Won in November but in the trash: nowhere.
    trashed = world.card(
        "G", "2026-11-01T00:00:00Z", "9999.00", theirs, [("Won", "2026-11-12T00:00:00Z")]
    )
    admin.ok("DELETE", f"cards/{trashed['id']}", status=204)
    return world


def test_the_funnel_counts_cards_per_status_in_the_products_order_with_their_values(admin, sales):
    report = admin.ok("GET", f"reports/funnel?product_id={sales.product['id']}")
    assert report["product"] == {"id": sales.product["id"], "name": "Sales"}
    assert [(s["name"], s["count"], s["value"]) for s in report["statuses"]] == [
        ("Database", 0, "0.00"),
        ("Lead", 1, "0.00"),
        ("Offer sent", 0, "0.00"),
        ("Follow-up", 0, "0.00"),
        ("Negotiation", 0, "0.00"),
        ("Won", 3, "1800.50"),
        ("Lost", 2, "250.00"),
    ]
    assert {s["currency"] for s in report["statuses"]} == {"EUR"}
    assert [(g["group"], g["count"]) for g in report["groups"]] == [
        ("inactive", 1),
        ("in_progress", 0),
        ("positive", 3),
        ("negative", 2),
    ]
    assert report["groups"][2]["values"] == [{"currency": "EUR", "amount": "1800.50"}]
    assert report["total"] == 6


def test_won_and_lost_in_the_period_with_values_win_rate_and_days_to_won(admin, sales):
    report = admin.ok("GET", f"reports/outcomes?product_id={sales.product['id']}&{NOVEMBER}")
    assert report["won"] == {"count": 2, "values": [{"currency": "EUR", "amount": "1500.50"}]}
    assert report["lost"] == {"count": 2, "values": [{"currency": "EUR", "amount": "250.00"}]}
    assert report["win_rate"] == 0.5
    assert report["average_days_to_won"] == 7.5  # A took 10 days, B 5
    assert report["period"] == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "timezone": "UTC",
        "shortcut": None,
    }
    october = admin.ok(
        "GET", f"reports/outcomes?product_id={sales.product['id']}&period=last_month"
    )
    assert october["period"]["from"] == "2026-10-01" and october["period"]["to"] == "2026-10-31"
    assert october["won"]["count"] == 1 and october["lost"]["count"] == 0
    assert october["win_rate"] == 1.0 and october["average_days_to_won"] == 19.0


def test_the_default_period_is_this_month_in_the_callers_zone(admin, sales, new_user):
    report = admin.ok("GET", "reports/outcomes")
    assert report["period"] == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "timezone": "UTC",
        "shortcut": "this_month",
    }
    assert report["product"] is None and report["won"]["count"] == 2
    quarter = admin.ok("GET", "reports/outcomes?period=this_quarter")["period"]
    assert (quarter["from"], quarter["to"]) == ("2026-10-01", "2026-12-31")
    year = admin.ok("GET", "reports/outcomes?period=this_year")["period"]
    assert (year["from"], year["to"]) == ("2026-01-01", "2026-12-31")


def test_a_period_with_nothing_closed_has_no_win_rate(admin, sales):
    report = admin.ok("GET", "reports/outcomes?from=2026-09-01&to=2026-09-30")
    assert report["won"]["count"] == report["lost"]["count"] == 0
    assert report["win_rate"] is None and report["average_days_to_won"] is None


def test_a_member_limited_to_own_cards_counts_only_their_own_and_nobodys(member, sales):
    path = f"product_id={sales.product['id']}"
    funnel = member.ok("GET", f"reports/funnel?{path}")
    assert {s["name"]: s["count"] for s in funnel["statuses"] if s["count"]} == {
        "Lead": 1,
        "Won": 1,
    }
    assert funnel["groups"][2]["values"] == [{"currency": "EUR", "amount": "1000.00"}]
    outcomes = member.ok("GET", f"reports/outcomes?{path}&{NOVEMBER}")
    assert outcomes["won"] == {"count": 1, "values": [{"currency": "EUR", "amount": "1000.00"}]}
    assert outcomes["lost"]["count"] == 0 and outcomes["average_days_to_won"] == 10.0
    team = member.ok("GET", f"reports/outcomes?{NOVEMBER}")
    assert team["won"]["count"] == 1


def test_a_non_member_sees_nothing_of_the_product(sales, new_user):
    stranger = new_user("stranger@example.com")
    for report in ("funnel", "outcomes", "tasks-closed", "overdue"):
        response = stranger.get(f"reports/{report}?product_id={sales.product['id']}")
        assert response.status_code == 404, report
        assert response.headers["Content-Type"] == "application/problem+json"
    assert stranger.ok("GET", "reports/funnel")["total"] == 0
    assert stranger.ok("GET", f"reports/outcomes?{NOVEMBER}")["won"]["count"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-12-01&to=2026-11-01", "from"),
        ("from=2025-01-01&to=2026-12-31", "to"),
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("period=next_decade", "period"),
        ("period=this_month&from=2026-11-01", "period"),
        ("product_id=abc", "product_id"),
        ("from=0001-01-01", "from"),
    ],
)
def test_a_bad_period_is_refused_with_the_field_named(admin, query, field):
    for report in ("outcomes", "tasks-closed"):
        response = admin.get(f"reports/{report}?{query}")
        assert response.status_code == 422, (report, query, response.get_json())
        assert field in response.get_json()["errors"]


def test_an_unknown_product_is_not_found(admin):
    assert admin.get("reports/funnel?product_id=999999").status_code == 404


def close_task(app, task, closed_at, closer, status="done"):
    execute(
        app,
        "UPDATE tasks SET status = :status, closed_at = :at, closed_by_id = :by WHERE id = :id",
        status=status,
        at=at(closed_at),
        by=closer.user.id,
        id=task["id"],
    )


def test_tasks_closed_per_person_per_week_in_the_callers_weeks(app, admin, new_user):
    ana = new_user("ana@example.com")
    bob = new_user("bob@example.com")
    lead = new_user("lead@example.com", timezone="Europe/Bucharest")
    product = admin.product("sales")
    admin.grant(product, ana, bob, lead)
    card = admin.card(product, "Deal")
    trashed = admin.card(product, "Gone")
    closed = [
        (ana, "2026-11-01T10:00:00Z"),  # Sunday: the period's first week is one day
        (ana, "2026-11-03T10:00:00Z"),
        (ana, "2026-11-04T10:00:00Z"),
        (bob, "2026-11-08T22:30:00Z"),  # Sunday in UTC, Monday 00:30 in Bucharest
        (bob, "2026-11-30T23:00:00Z"),  # the period's last day in UTC, December in Bucharest
    ]
    for person, when in closed:
        close_task(app, admin.task(card, "2026-11-01T09:00:00Z"), when, person)
    close_task(
        app, admin.task(card, "2026-11-02T09:00:00Z"), "2026-11-02T10:00:00Z", ana, "cancelled"
    )
    close_task(app, admin.task(trashed, "2026-11-02T09:00:00Z"), "2026-11-02T10:00:00Z", ana)
    close_task(app, admin.task(card, "2026-11-02T09:00:00Z"), "2026-10-31T10:00:00Z", ana)
    admin.ok("DELETE", f"cards/{trashed['id']}", status=204)

    report = admin.ok("GET", f"reports/tasks-closed?product_id={product['id']}&{NOVEMBER}")
    assert [(week["from"], week["to"]) for week in report["weeks"]] == [
        ("2026-11-01", "2026-11-01"),
        ("2026-11-02", "2026-11-08"),
        ("2026-11-09", "2026-11-15"),
        ("2026-11-16", "2026-11-22"),
        ("2026-11-23", "2026-11-29"),
        ("2026-11-30", "2026-11-30"),
    ]
    people = {person["user"]["name"]: person["weeks"] for person in report["people"]}
    assert people == {"Ana": [1, 2, 0, 0, 0, 0], "Bob": [0, 1, 0, 0, 0, 1]}
    assert report["total"] == 5
    in_bucharest = lead.ok("GET", f"reports/tasks-closed?product_id={product['id']}&{NOVEMBER}")
    assert in_bucharest["period"]["timezone"] == "Europe/Bucharest"
    people = {person["user"]["name"]: person["weeks"] for person in in_bucharest["people"]}
    assert people == {"Ana": [1, 2, 0, 0, 0, 0], "Bob": [0, 0, 1, 0, 0, 0]}


def test_overdue_per_person_counts_all_day_tasks_once_their_day_ended_in_their_zone(
    app, admin, new_user
):
    ana = new_user("ana@example.com", timezone="Pacific/Auckland")  # already Nov 21st, 01:00
    bob = new_user("bob@example.com", timezone="America/Los_Angeles")  # still Nov 20th, 04:00
    product = admin.product("sales")
    admin.grant(product, ana, bob)
    card = admin.card(product, "Deal")
    ana.task(card, "2026-11-20", "all day yesterday for ana", all_day=True)
    bob.task(card, "2026-11-20", "all day today for bob", all_day=True)
    bob.task(card, "2026-11-19", "all day yesterday for bob", all_day=True)
    ana.task(card, "2026-11-20T11:59:00Z", "a minute late")
    ana.task(card, "2026-11-20T12:01:00Z", "in a minute")
    done = bob.task(card, "2026-11-01T09:00:00Z", "done long ago")
    close_task(app, done, "2026-11-02T10:00:00Z", bob)

    report = admin.ok("GET", f"reports/overdue?product_id={product['id']}")
    assert {p["user"]["name"]: p["count"] for p in report["people"]} == {"Ana": 2, "Bob": 1}
    assert report["total"] == 3
    assert report["now"] == "2026-11-20T12:00:00Z"
    bobs = next(p for p in report["people"] if p["user"]["name"] == "Bob")
    assert bobs["oldest_due"] == "2026-11-19T08:00:00Z"  # midnight in Los Angeles


def test_overdue_follows_the_access_rule(app, admin, member, new_user):
    product = admin.product("sales")
    admin.grant(product, member, own_cards_only=True)
    mine = admin.card(product, "mine", owner_id=member.user.id)
    theirs = admin.card(product, "theirs", owner_id=admin.user.id)
    admin.task(mine, "2026-11-10T09:00:00Z", "late on mine")
    admin.task(theirs, "2026-11-10T09:00:00Z", "late on theirs")
    admin.task(theirs, "2026-11-11T09:00:00Z", "also late on theirs")
    assert admin.ok("GET", f"reports/overdue?product_id={product['id']}")["total"] == 3
    assert member.ok("GET", f"reports/overdue?product_id={product['id']}")["total"] == 1
    assert member.ok("GET", "reports/overdue")["total"] == 1
    closed = admin.task(theirs, "2026-11-01T09:00:00Z", "closed on theirs")
    close_task(app, closed, "2026-11-03T10:00:00Z", admin)
    report = member.ok("GET", f"reports/tasks-closed?{NOVEMBER}")
    assert report["total"] == 0


def test_tasks_closed_in_a_period_within_one_week(app, admin, new_user):
    ana = new_user("ana.week@example.com")
    product = admin.product("sales")
    admin.grant(product, ana)
    card = admin.card(product, "Deal")
    close_task(app, admin.task(card, "2026-11-01T09:00:00Z"), "2026-11-03T10:00:00Z", ana)
    close_task(app, admin.task(card, "2026-11-01T09:00:00Z"), "2026-11-04T10:00:00Z", ana)

    for query in ("from=2026-11-03&to=2026-11-04", "from=2026-11-03"):
        report = admin.ok("GET", f"reports/tasks-closed?product_id={product['id']}&{query}")
        assert len(report["weeks"]) == 1
        people = {person["user"]["name"]: person["weeks"] for person in report["people"]}
        assert people == {"Ana.Week": [2 if "to=" in query else 1]}
