"""The reports' figures, each one aggregate query in the database over what the caller sees.

``funnel`` is the cards as they stand now; ``outcomes`` and ``tasks_closed`` cover a period;
``overdue`` is as of now. Each takes a ``Subject``: one product, or every product in sight.
Cards in the trash, and their tasks, count nowhere (DESIGN.md §1).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from cardcrm.common.errors import NotFound
from cardcrm.common.translate import gettext as _
from sqlalchemy import BigInteger, Select, case, cast, func, literal, null, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..access import Scope, check_product, scope_of
from ..auth.models import User
from ..cards.models import Card, CardHistory
from ..products.models import CLOSED_GROUPS, GROUPS, Product, Status
from ..tasks.models import Task
from .period import ReportPeriod
from .sql import money_field, money_value, seconds_between

#: The widest gap between an all-day task's stored instant and the end of its day anywhere.
ZONE_SLACK = timedelta(hours=27)
CENTS = Decimal("0.01")
Query = TypeVar("Query", bound=Select)


@dataclass(frozen=True)
class Subject:
    """What a report covers: one product (``product``) or every product in sight (team)."""

    scope: Scope
    products: list[Product]
    product: Product | None = None

    def cards(self, card: Any = Card) -> list[ColumnElement[bool]]:
        """WHERE conditions: the cards of the subject the caller may see, not in the trash."""
        conditions: list[ColumnElement[bool]] = [card.trashed_at.is_(None)]
        if self.product is not None:
            conditions.append(card.product_id == self.product.id)
        if (visible := self.scope.cards_condition(card)) is not None:
            conditions.append(visible)
        return conditions

    def tasks(self, query: Query) -> Query:
        """``query`` on Task kept to the subject's tasks on cards the caller may see, not in
        the trash. Where the caller sees only own cards, the tasks are joined to their cards
        and ``access``'s card rule applies (one join, not a subquery per task)."""
        query = query.where(Task.card_trashed.is_(False))
        if self.product is not None:
            query = query.where(Task.product_id == self.product.id)
        if self.scope.everything:
            return query
        if not self.scope.own_cards_products:
            return _where(query, self.scope.tasks_condition())
        return _where(query.join(Card, Card.id == Task.card_id), self.scope.cards_condition(Card))

    def currency(self, product_id: int) -> str | None:
        product = next(product for product in self.products if product.id == product_id)
        field = money_field(product)
        return field.get("currency") if field else None

    def as_json(self) -> dict[str, Any] | None:
        if self.product is None:
            return None
        return {"id": self.product.id, "name": self.product.name}


def subject_for(session: Session, user: User, product_id: int | None) -> Subject:
    """The subject a caller asks for; a product they may not see is not found (404)."""
    if product_id is not None:
        scope = check_product(session, user, product_id)
        product = session.get(Product, product_id)
        if product is None:  # (an admin sees every product, even one that is not there)
            raise NotFound(_("No product %(id)s.", id=product_id))
        return Subject(scope, [product], product)
    scope = scope_of(session, user)
    query = select(Product).order_by(Product.name, Product.id)
    if not scope.everything:
        query = query.where(Product.id.in_(scope.product_ids))
    return Subject(scope, list(session.scalars(query)))


def funnel(session: Session, subject: Subject) -> dict[str, Any]:
    """Cards per status (in the product's order) and per status group, as they stand now."""
    value = money_value(subject.products)
    rows = session.execute(
        select(
            Card.status_id,
            func.count(),
            func.sum(value) if value is not None else literal(None),
        )
        .where(*subject.cards())
        .group_by(Card.status_id)
    ).all()
    counted = {status_id: (count, total) for status_id, count, total in rows}
    statuses = session.execute(
        select(Status, Product.name)
        .join(Product, Product.id == Status.product_id)
        .where(Status.product_id.in_([product.id for product in subject.products]))
        .order_by(Product.name, Product.id, Status.group_order, Status.position)
    ).all()
    items = []
    groups: dict[str, dict[str, Any]] = {
        group: {"group": group, "count": 0, "values": defaultdict(Decimal)} for group in GROUPS
    }
    for status, product_name in statuses:
        count, total = counted.get(status.id, (0, None))
        currency = subject.currency(status.product_id)
        amount = _money(total) if money_field_of(subject, status.product_id) else None
        items.append(
            {
                "id": status.id,
                "name": status.name,
                "group": status.group,
                "product": {"id": status.product_id, "name": product_name},
                "count": count,
                "value": amount,
                "currency": currency,
            }
        )
        groups[status.group]["count"] += count
        if amount is not None:
            groups[status.group]["values"][currency] += Decimal(amount)
    return {
        "product": subject.as_json(),
        "total": sum(item["count"] for item in items),
        "groups": [{**group, "values": _values(group["values"])} for group in groups.values()],
        "statuses": items,
    }


def money_field_of(subject: Subject, product_id: int) -> bool:
    product = next(product for product in subject.products if product.id == product_id)
    return money_field(product) is not None


def outcomes(session: Session, subject: Subject, period: ReportPeriod) -> dict[str, Any]:
    """Cards won and lost in the period, their values, the win rate and the time to won.

    A card counts once, by the last closing move it made in the period: a status change into
    the positive (won) or negative (lost) group from another group, read from its history.
    """
    moves = _closing_moves(subject, period)
    rows = session.execute(
        select(
            moves.c.to_group,
            moves.c.product_id,
            func.count(),
            func.sum(moves.c.value),
            func.sum(moves.c.seconds),
        )
        .where(moves.c.newest_first == 1)
        .group_by(moves.c.to_group, moves.c.product_id)
    ).all()
    result: dict[str, dict[str, Any]] = {
        group: {"count": 0, "values": defaultdict(Decimal)} for group in CLOSED_GROUPS
    }
    won_seconds = 0.0
    for group, product_id, count, total, seconds in rows:
        result[group]["count"] += count
        if money_field_of(subject, product_id):
            result[group]["values"][subject.currency(product_id)] += Decimal(_money(total))
        if group == "positive":
            won_seconds += float(seconds or 0)
    won, lost = result["positive"]["count"], result["negative"]["count"]
    return {
        "product": subject.as_json(),
        "period": period.as_json(),
        "won": {"count": won, "values": _values(result["positive"]["values"])},
        "lost": {"count": lost, "values": _values(result["negative"]["values"])},
        "win_rate": round(won / (won + lost), 4) if won + lost else None,
        "average_days_to_won": round(won_seconds / won / 86400, 2) if won else None,
    }


def _closing_moves(subject: Subject, period: ReportPeriod) -> Any:
    """The subject's closing moves in the period, each with its card's product and value, the
    seconds since the card was made, and its number among the card's moves (1: the last).

    Two shapes, one result. A caller who sees only own cards starts from those cards (the
    owner's index: a few thousand) and reads each one's history. Otherwise the period's
    closing moves are read first, on their own (a materialized CTE: one range read of the
    status changes by time), then their cards by key: left to the planner, SQLite walked every
    card of the product and probed its history, several times slower (bench/totals.py). The
    cards' conditions hold for all of a card's moves or none, so numbering the moves before
    the join to the cards finds the same last move.
    """
    to_group = CardHistory.data[("to", "group")].as_string()
    from_group = CardHistory.data[("from", "group")].as_string()
    money = money_value(subject.products)
    value = (money if money is not None else cast(null(), BigInteger)).label("value")
    newest_first = func.row_number().over(
        partition_by=CardHistory.card_id, order_by=CardHistory.id.desc()
    )
    closing = (
        CardHistory.type == "card.status_changed",
        CardHistory.at >= period.start,
        CardHistory.at < period.end,
        to_group.in_(CLOSED_GROUPS),
        from_group != to_group,
    )
    own = subject.scope.own_cards_products
    if not subject.scope.everything and all(product.id in own for product in subject.products):
        return (
            select(
                to_group.label("to_group"),
                Card.product_id,
                value,
                seconds_between(Card.created_at, CardHistory.at).label("seconds"),
                newest_first.label("newest_first"),
            )
            .join(Card, Card.id == CardHistory.card_id)
            .where(*closing, *subject.cards())
            .subquery()
        )
    moves = (
        select(
            CardHistory.card_id,
            CardHistory.at,
            to_group.label("to_group"),
            newest_first.label("newest_first"),
        )
        .where(*closing)
        .cte("moves")
        .prefix_with("MATERIALIZED")
    )
    return (
        select(
            moves.c.to_group,
            Card.product_id,
            value,
            seconds_between(Card.created_at, moves.c.at).label("seconds"),
            moves.c.newest_first,
        )
        .join(Card, Card.id == moves.c.card_id)
        .where(*subject.cards())
        .subquery()
    )


def tasks_closed(session: Session, subject: Subject, period: ReportPeriod) -> dict[str, Any]:
    """Tasks closed as done in the period, per person who closed them and per week."""
    weeks = period.weeks()
    starts = [datetime.combine(first, time(), tzinfo=period.zone) for first, _ in weeks]
    whens = [(Task.closed_at < start, index - 1) for index, start in enumerate(starts[1:], 1)]
    closed = (Task.status == "done", Task.closed_at >= period.start, Task.closed_at < period.end)
    if whens:
        week = case(*whens, else_=len(weeks) - 1)
        query = select(Task.closed_by_id, week, func.count()).where(*closed)
        rows: list[Any] = list(
            session.execute(subject.tasks(query).group_by(Task.closed_by_id, week)).all()
        )
    else:  # a period within one week: a CASE with no WHEN is no SQL
        query = select(Task.closed_by_id, func.count()).where(*closed)
        grouped = session.execute(subject.tasks(query).group_by(Task.closed_by_id)).all()
        rows = [(user_id, 0, count) for user_id, count in grouped]
    counts: dict[int | None, list[int]] = defaultdict(lambda: [0] * len(weeks))
    for user_id, index, count in rows:
        counts[user_id][int(index)] += count
    names = _names(session, counts)
    people: list[dict[str, Any]] = [
        {"user": _person(user_id, names), "weeks": per_week, "total": sum(per_week)}
        for user_id, per_week in counts.items()
    ]
    people.sort(key=lambda person: (-person["total"], person["user"]["name"]))
    return {
        "product": subject.as_json(),
        "period": period.as_json(),
        "weeks": [{"from": first.isoformat(), "to": last.isoformat()} for first, last in weeks],
        "people": people,
        "total": sum(person["total"] for person in people),
    }


def overdue(session: Session, subject: Subject, now: datetime) -> dict[str, Any]:
    """Open tasks whose deadline has passed, per assignee, as of ``now``.

    A timed task is overdue once its deadline is before now; an all-day task once its day has
    ended in its assignee's time zone (DESIGN.md §1); an unassigned one's day ends in UTC.
    """
    zones = session.scalars(select(User.timezone).distinct()).all()
    today_there = (
        case(
            {zone: now.astimezone(ZoneInfo(zone)).date() for zone in zones},
            value=User.timezone,
            else_=now.date(),
        )
        if zones
        else literal(now.date())
    )
    is_overdue = case(
        (Task.all_day.is_(True), Task.due_date < today_there),
        else_=Task.due < now,
    )
    query = (
        select(Task.assignee_id, func.count(), func.min(Task.due))
        .outerjoin(User, User.id == Task.assignee_id)
        .where(Task.status == "open", Task.due < now + ZONE_SLACK, is_overdue == true())
    )
    rows = session.execute(subject.tasks(query).group_by(Task.assignee_id)).all()
    names = _names(session, {user_id for user_id, _, _ in rows})
    people: list[dict[str, Any]] = [
        {"user": _person(user_id, names), "count": count, "oldest_due": oldest}
        for user_id, count, oldest in rows
    ]
    people.sort(key=lambda person: (-person["count"], person["user"]["name"]))
    return {
        "product": subject.as_json(),
        "now": now,
        "people": people,
        "total": sum(person["count"] for person in people),
    }


def _names(session: Session, user_ids: Any) -> dict[int, str]:
    ids = [user_id for user_id in user_ids if user_id is not None]
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def _person(user_id: int | None, names: dict[int, str]) -> dict[str, Any]:
    if user_id is None:
        return {"id": None, "name": "Nobody"}
    return {"id": user_id, "name": names.get(user_id, "A removed user")}


def _money(cents: Any) -> str:
    """A sum of ``cards.amount_cents`` as a decimal string with two places."""
    return str((Decimal(int(cents or 0)) / 100).quantize(CENTS))


def _values(amounts: dict[str | None, Decimal]) -> list[dict[str, Any]]:
    return [
        {"currency": currency, "amount": str(amount.quantize(CENTS))}
        for currency, amount in sorted(amounts.items(), key=lambda item: item[0] or "")
    ]


def _where(query: Query, condition: ColumnElement[bool] | None) -> Query:
    """``query`` kept to ``condition`` (None: no limit)."""
    return query if condition is None else query.where(condition)
