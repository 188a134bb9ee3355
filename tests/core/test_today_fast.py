"""The Today view's fast path answers, byte for byte, what its marshmallow declaration would.

``tasks.today`` reads plain rows through statements built once and writes each task out by hand
(``_item``); ``TaskSchema`` stays the declaration. Here a varied set of tasks (timed and all-day,
overdue, due, later, recurring, postponed, closed, cancelled, on a trashed card, on cards with
custom fields, for an admin, a member and a member limited to own cards) is listed in every
``show`` list and period, page by page, and each response is compared with the JSON of the view
as it was: the same rules through ORM objects, three totals queries and ``TaskSchema().dump``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from cardcrm.common.api import dumps
from cardcrm.common.db import get_db
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.core.access import scope_of, tasks_in_sight
from cardcrm.core.auth.models import User
from cardcrm.core.cards.models import Card
from cardcrm.core.products.models import Product, Status
from cardcrm.core.tasks import service as task_service
from cardcrm.core.tasks import today as rules
from cardcrm.core.tasks.models import Postponement, Task
from cardcrm.core.tasks.schemas import TaskSchema
from cardcrm.core.web.today import task_row
from sqlalchemy import and_, case, event, func, literal, or_, select
from sqlalchemy.orm import Session

NOW = "2026-11-30T12:00:00+00:00"
PERIODS = ("", "from=2026-11-30&to=2026-12-06", "from=2026-11-20&to=2026-11-29", "from=2026-12-02")


class FixedClock:
    def __call__(self) -> datetime:
        return datetime.fromisoformat(NOW)


@pytest.fixture
def world(app, admin, member, new_user, monkeypatch):
    """Three users' tasks of every kind, on cards they see whole, in part, or in the trash.

    Tasks are closed and postponed at the view's fixed ``NOW`` too, so the closed and postponed
    lists of the periods around it hold them whatever the real date is.
    """
    app.config["CLOCK"] = FixedClock()
    monkeypatch.setattr(task_service, "utcnow", FixedClock())
    limited = new_user("limited@example.com", timezone="Europe/Bucharest")
    sales = admin.product("sales")
    other = admin.product("sales", name='Other "quoted" & <b>ș</b>')
    admin.grant(sales, member)
    admin.grant(other, member)
    admin.grant(sales, limited, own_cards_only=True)
    field = next(iter(sales["fields"]), None)
    fields = {field["key"]: "ACME Ș.R.L."} if field and field["type"] == "text" else {}
    cards = [
        admin.card(sales, "limited's own — ț", owner_id=limited.user.id, fields=fields),
        admin.card(sales, 'nobody\'s "card" \\ </script>'),
        admin.card(sales, "member's", owner_id=member.user.id),
        admin.card(other, "other product's 🙂"),
    ]
    trashed = admin.card(sales, "trashed soon")
    users = {"admin": admin, "member": member, "limited": limited}
    for who, user in users.items():
        due: list[tuple[str, dict[str, Any]]] = [
            ("2026-11-30T09:00:00Z", {}),  # overdue earlier today
            ("2026-11-30T15:30:00+02:00", {}),  # due later today
            ("2026-11-30", {"all_day": True}),  # all-day today: due, stored at midnight
            ("2026-11-28", {"all_day": True}),  # all-day, its day has ended: overdue
            ("2026-11-20T08:00:00Z", {"type": "call"}),  # long overdue
            ("2026-12-03T10:00:00Z", {"repeat": {"freq": "weekly", "weekdays": ["TH", "MO"]}}),
            ("2026-12-05", {"all_day": True, "repeat": {"freq": "daily", "interval": 2}}),
            ("2027-01-15T10:00:00Z", {}),  # outside every period shown
        ]
        for number, card in enumerate(cards):
            for index, (deadline, extra) in enumerate(due):
                admin.task(
                    card,
                    deadline,
                    f'{who} {number}.{index} «ăîâșț» \u2028 "x"',
                    assignee_id=user.user.id,
                    **extra,
                )
            done = admin.task(card, "2026-11-30T08:00:00Z", f"{who} done", assignee_id=user.user.id)
            user.request("POST", f"tasks/{done['id']}/close", json={"comment": "ok"})
            cancelled = admin.task(
                card, "2026-11-29", "cancelled", assignee_id=user.user.id, all_day=True
            )
            user.request("POST", f"tasks/{cancelled['id']}/close", json={"outcome": "cancelled"})
            moved = admin.task(
                card, "2026-11-30T16:00:00Z", f"{who} moved", assignee_id=user.user.id
            )
            user.request(
                "POST", f"tasks/{moved['id']}/postpone", json={"due": "2026-12-09T10:00:00Z"}
            )
            series = admin.task(
                card,
                "2026-11-29T07:00:00Z",
                f"{who} recurring closed",
                assignee_id=user.user.id,
                repeat={"freq": "monthly"},
            )
            user.request("POST", f"tasks/{series['id']}/close", json={})
        admin.task(trashed, "2026-11-30T10:00:00Z", "on a trashed card", assignee_id=user.user.id)
    admin.ok("DELETE", f"cards/{trashed['id']}", status=204)
    yield users
    app.config.pop("CLOCK", None)


@pytest.mark.parametrize("who", ["admin", "member", "limited"])
def test_every_list_answers_what_the_schema_would(app, world, who):
    api = world[who]
    pages = 0
    for period in PERIODS:
        for show in rules.SHOWS:
            cursor = None
            while True:
                query = "&".join(
                    part
                    for part in (
                        period,
                        f"show={show}",
                        "limit=3",
                        f"cursor={cursor}" if cursor else "",
                    )
                    if part
                )
                response = api.get(f"today?{query}")
                assert response.status_code == 200, response.get_json()
                assert response.get_data() == reference_body(app, api.user.id, query), query
                pages += 1
                cursor = response.get_json()["next_cursor"]
                if cursor is None:
                    break
    assert pages > len(PERIODS) * len(rules.SHOWS)  # some lists were long enough to page


def test_the_web_page_rows_are_the_task_rows_it_redraws_after_a_change(app, world):
    """``mark_after`` items equal ``web.today.task_row`` (the ORM and ``TaskSchema``)."""
    with app.test_request_context():
        session = get_db().session()
        try:
            user = session.get(User, world["member"].user.id)
            period = rules.period_for(user, date(2026, 11, 30), date(2026, 12, 6))
            for show in rules.SHOWS:
                items, _ = rules.task_page(session, user, period, 500, None, show, mark_after=True)
                assert items
                expected = [task_row(session.get(Task, item["id"]), period) for item in items]
                assert app.json.dumps(items) == app.json.dumps(expected)
        finally:
            session.close()


def test_a_request_sends_one_statement_for_the_totals_and_one_for_the_page(app, world):
    engine = app.extensions["cardcrm_db"].engine
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert world["limited"].get("today").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    on_tasks = [statement for statement in sent if "FROM tasks" in " ".join(statement.split())]
    assert len(on_tasks) == 2, sent


@pytest.mark.parametrize("who", ["member", "limited"])
def test_the_memberships_are_read_inside_the_statements(app, world, who):
    """No ``scope_of`` query of its own: the statements ask ``product_members`` themselves."""
    engine = app.extensions["cardcrm_db"].engine
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert world[who].get("today?show=tasks").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert not [statement for statement in sent if statement.startswith("SELECT product_members")]
    on_tasks = [statement for statement in sent if "FROM tasks" in statement]
    assert all("product_members" in statement for statement in on_tasks), on_tasks


@pytest.mark.parametrize("who", ["member", "limited"])
def test_tasks_in_sight_is_the_scope_rule(app, world, who):
    """``access.tasks_in_sight`` (memberships read by SQL) picks what ``scope_of``'s does."""
    with app.test_request_context():
        session = get_db().session()
        try:
            user = session.get(User, world[who].user.id)
            by_scope = select(Task.id).where(scope_of(session, user).tasks_condition())
            by_sql = select(Task.id).where(tasks_in_sight(literal(user.id)))
            ids = set(session.scalars(by_scope))
            assert ids and ids == set(session.scalars(by_sql))
            if who == "limited":  # the rule leaves others' cards out
                assert ids < set(session.scalars(select(Task.id)))
        finally:
            session.close()


# --- the view as it was: ORM objects, three totals queries, TaskSchema -------------------------


def reference_body(app: Any, user_id: int, query: str) -> bytes:
    with app.test_request_context(f"/?{query}"):
        from flask import request

        session = get_db().session()
        try:
            user = session.get(User, user_id)
            args = request.args
            first = date.fromisoformat(args["from"]) if "from" in args else None
            last = date.fromisoformat(args["to"]) if "to" in args else None
            period = rules.period_for(user, first, last)
            show = args["show"]
            tasks, next_cursor = reference_page(
                session, user, period, int(args["limit"]), args.get("cursor"), show
            )
            body = {
                "period": {
                    "from": period.first.isoformat(),
                    "to": period.last.isoformat(),
                    "timezone": user.timezone,
                },
                "show": show,
                "totals": reference_totals(session, user, period),
                "tasks": tasks,
                "next_cursor": next_cursor,
            }
            return dumps(body)
        finally:
            session.close()


def _overdue(period: rules.Period) -> Any:
    return case((Task.all_day, Task.due_date < period.today), else_=Task.due < period.now)


def _due(period: rules.Period) -> Any:
    return case(
        (
            Task.all_day,
            and_(
                Task.due_date >= period.first,
                Task.due_date <= period.last,
                Task.due_date >= period.today,
            ),
        ),
        else_=and_(Task.due >= period.start, Task.due < period.end, Task.due >= period.now),
    )


def _conditions(session: Session, user: User, period: rules.Period, show: str) -> list[Any]:
    condition = scope_of(session, user).tasks_condition()
    sight = [] if condition is None else [condition]
    if show == "closed":
        return [
            Task.closed_by_id == user.id,
            Task.assignee_id == user.id,
            Task.status == "done",
            Task.closed_at >= period.start,
            Task.closed_at < period.end,
            Task.card_trashed.is_(False),
            *sight,
        ]
    if show == "postponed":
        postponed = select(Postponement.task_id).where(
            Postponement.assignee_id == user.id,
            Postponement.at >= period.start,
            Postponement.at < period.end,
            Postponement.after >= period.end,
        )
        return [
            Task.id.in_(postponed),
            Task.assignee_id == user.id,
            Task.card_trashed.is_(False),
            *sight,
        ]
    reach = [
        Task.assignee_id == user.id,
        Task.status == "open",
        Task.due < max(period.end, period.now) + rules.ZONE_SLACK,
        Task.card_trashed.is_(False),
        *sight,
    ]
    if show == "due":
        return [*reach, _due(period)]
    if show == "overdue":
        return [*reach, _overdue(period)]
    if show == "open":  # the open tasks in reach, for the totals
        return reach
    return [*reach, or_(_overdue(period), _due(period))]


def reference_totals(session: Session, user: User, period: rules.Period) -> dict[str, int]:
    overdue, due = session.execute(
        select(func.count().filter(_overdue(period)), func.count().filter(_due(period))).where(
            *_conditions(session, user, period, "open")
        )
    ).one()
    closed = session.scalar(
        select(func.count()).where(*_conditions(session, user, period, "closed"))
    )
    postponed = session.scalar(
        select(func.count()).where(*_conditions(session, user, period, "postponed"))
    )
    return {
        "due": due or 0,
        "overdue": overdue or 0,
        "closed": closed or 0,
        "postponed": postponed or 0,
    }


def reference_page(
    session: Session, user: User, period: rules.Period, limit: int, cursor: str | None, show: str
) -> tuple[list[dict[str, Any]], str | None]:
    overdue = _overdue(period)
    rank = case((overdue, 0), else_=1) if show == "tasks" else literal(0)
    query = (
        select(Task, overdue.label("overdue"), Card.title, Product.name, Status.name, Status.group)
        .join(Card, Card.id == Task.card_id)
        .join(Product, Product.id == Task.product_id)
        .join(Status, Status.id == Card.status_id)
        .where(*_conditions(session, user, period, show))
    )
    position = decode_cursor(cursor)
    if position is not None:
        after_rank = int(position.get("rank", 0))
        after_due, after_id = datetime.fromisoformat(position["due"]), int(position["id"])
        query = query.where(
            or_(
                rank > after_rank,
                and_(
                    rank == after_rank,
                    or_(Task.due > after_due, and_(Task.due == after_due, Task.id > after_id)),
                ),
            )
        )
    rows = session.execute(query.order_by(rank, Task.due, Task.id).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last, last_overdue = rows[-1][0], rows[-1][1]
        last_rank = 0 if show != "tasks" or last_overdue else 1
        next_cursor = encode_cursor({"rank": last_rank, "due": last.due.isoformat(), "id": last.id})
    schema = TaskSchema()
    tasks = []
    for task, is_overdue, card_title, product_name, status_name, status_group in rows:
        item = schema.dump(task)
        item["card"] = {"id": task.card_id, "title": card_title}
        item["product"] = {"id": task.product_id, "name": product_name}
        item["card_status"] = {"name": status_name, "group": status_group}
        item["overdue"] = bool(is_overdue) and task.status == "open"
        tasks.append(item)
    return tasks, next_cursor


def test_all_day_tasks_stored_in_a_zone_far_away_are_listed_as_before(app, admin, new_user):
    """The usual list reads due tasks from ``low`` (``ZONE_SLACK`` before the first day to
    come): all-day tasks stored at midnight in UTC+14 still show for a user now in UTC-11."""
    app.config["CLOCK"] = FixedClock()
    try:
        traveller = new_user("far@example.com", timezone="Pacific/Kiritimati")
        product = admin.product("sales")
        admin.grant(product, traveller)
        card = admin.card(product, "far away")
        for day in ("2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"):
            for number in range(2):
                admin.task(
                    card, day, f"{day} {number}", all_day=True, assignee_id=traveller.user.id
                )
        admin.task(card, "2026-11-30T11:00:00Z", "timed, overdue", assignee_id=traveller.user.id)
        admin.task(card, "2026-11-30T13:00:00Z", "timed, due", assignee_id=traveller.user.id)
        traveller.ok("PATCH", "me", {"timezone": "Pacific/Pago_Pago"})
        listed = 0
        for period in ("", "from=2026-11-29", "from=2026-11-30&to=2026-12-02", "from=2026-12-01"):
            for show in ("tasks", "due", "overdue"):
                query = "&".join(part for part in (period, f"show={show}", "limit=50") if part)
                response = traveller.get(f"today?{query}")
                assert response.get_data() == reference_body(app, traveller.user.id, query), query
                listed += len(response.get_json()["tasks"])
        assert listed > 0
    finally:
        app.config.pop("CLOCK", None)
