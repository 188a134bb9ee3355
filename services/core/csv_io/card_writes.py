"""Writing a checked card import: the spooled plans, in batches (``batches``), in bulk.

Each batch inserts its new cards with ids of their own, updates its changed cards (one version
each), then writes their history rows and events, each list in one statement
(``execute_many``, ``insert_events``). What is written is what ``create_card`` and
``update_card`` write for one card: the rows come from the same ``creation_records`` and
``change_records``, the payload is ``card_data``'s (built from the values instead of a loaded
card: the tests check both are equal).

Under each batch's lock, before writing, the batch checks that what the check saw still
holds: the cards it changes are as they were (version, owner, contact, not in the trash; a
row without a ``version`` cell overwrites changes made before the check, not after), and the
product, statuses, owners and contacts it names and the importer's access are still there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_str  # json.dumps of a str
from typing import Any, NamedTuple

from cardcrm.common.bulk import JsonText, execute_many, json_text, reserve_ids
from cardcrm.common.errors import NotFound
from cardcrm.common.timeutil import isoformat_z, utcnow
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from ..access import Scope, forget_scopes, scope_of
from ..auth.models import User
from ..cards.amount import amount_cents, product_money_key
from ..cards.changes import Recorded, change_records, creation_records
from ..cards.models import Card, CardHistory
from ..cards.search_text import card_search_text
from ..contacts.models import CardContact, Contact
from ..events.outbox import insert_events
from ..mail.address import address_of, new_secret
from ..products.models import CLOSED_GROUPS, Status
from ..products.service import get_product
from .batches import Progress, write_in_batches
from .spool import PlanSpool


class NewCard(NamedTuple):
    """A checked row that creates a card."""

    line: int
    status_id: int
    title: str
    owner_id: int | None
    contact_id: int | None
    fields: dict[str, Any]


class CardUpdate(NamedTuple):
    """A checked row that changes a card: the values it had when checked, and its new ones."""

    line: int
    card_id: int
    version: int
    owner_before: int | None
    contact_before: int | None
    old_status_id: int
    created_at: datetime
    title: str
    status_id: int
    owner_id: int | None
    contact_id: int | None
    fields: dict[str, Any]
    diff: dict[str, dict[str, Any]]


Plan = NewCard | CardUpdate


def write_cards(
    session: Session,
    actor: User | None,
    product_id: int,
    spool: PlanSpool,
    scope: Scope,
    statuses: dict[int, tuple[str, str]],
) -> None:
    """Write the spooled plans of a checked file, batch by batch. ``statuses`` are the
    product's statuses as the check saw them (id → name, group)."""
    batches = _CardBatches(session, actor, product_id, _access(scope, product_id), statuses)
    write_in_batches(
        session, spool, batches.prepare, batches.write, lambda plan: isinstance(plan, NewCard)
    )


def _access(scope: Scope, product_id: int) -> tuple[bool, bool, bool]:
    """Where the importer stands in the product: everything, the whole product, own cards."""
    return (
        scope.everything,
        product_id in scope.products,
        product_id in scope.own_cards_products,
    )


class _NewRows:
    """What a new card writes, made before the lock but for its id (``fill`` sets it): its
    row, its ``card_data`` (its text without the id's part), its ``Recorded`` (from
    ``creation_records``, holding that same ``card_data``) and its history row."""

    __slots__ = ("data", "history", "item", "row", "text")

    def __init__(
        self, row: dict[str, Any], data: dict[str, Any], text: str, history: dict[str, Any]
    ) -> None:
        self.row, self.data, self.text, self.history = row, data, text, history
        (self.item,) = creation_records(data)
        history["type"], history["positive"] = self.item.history_type, self.item.positive

    def fill(self, card_id: int) -> JsonText:
        """Give the card its id (in its row, its data, its history row); its data's text."""
        self.row["id"] = self.data["id"] = self.history["card_id"] = card_id
        address = self.data["email_address"] = address_of(card_id, self.row["email_secret"])
        text = JsonText(f'{{"id": {card_id}, "email_address": {_json_str(address)}, {self.text}')
        self.history["data"] = JsonText('{"card": ' + text + "}")
        return text


@dataclass
class _Prepared:
    """A batch made ready before its transaction: what its new cards write, their ids left
    to fill (the only value known under the lock)."""

    plans: list[Plan]
    now: datetime
    stamp: str
    new: dict[int, _NewRows] = field(default_factory=dict)


class _CardBatches:
    def __init__(
        self,
        session: Session,
        actor: User | None,
        product_id: int,
        access: tuple[bool, bool, bool],
        statuses: dict[int, tuple[str, str]],
    ) -> None:
        self.session, self.actor, self.product_id = session, actor, product_id
        self.access, self.statuses = access, statuses

    def prepare(self, batch: list[Plan]) -> _Prepared:
        now = utcnow()
        prepared = _Prepared(batch, now, isoformat_z(now) or "")
        texts = _NewCardTexts(self.product_id, self.statuses, prepared.stamp)
        actor_id = self.actor.id if self.actor else None
        for plan in batch:
            if not isinstance(plan, NewCard):
                continue
            fields = json_text(plan.fields)
            row = {
                "id": None,
                "product_id": self.product_id,
                "status_id": plan.status_id,
                "title": plan.title,
                "search_text": card_search_text(plan.title, plan.fields),
                "amount_cents": None,  # set under the batch's lock (``_write_batch``)
                "owner_id": plan.owner_id,
                "contact_id": plan.contact_id,
                "fields": fields,
                "next_task_due": None,
                "trashed_at": None,
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "email_secret": new_secret(),
            }
            group = self.statuses[plan.status_id][1]
            data = {
                "id": None,
                **_card_values(
                    self.product_id, plan.status_id, group, plan, [], None, prepared.stamp, 1
                ),
            }
            history = {
                "card_id": None,
                "task_id": None,
                "type": None,
                "at": now,
                "user_id": actor_id,
                "data": None,
                "positive": False,
            }
            prepared.new[plan.line] = _NewRows(row, data, texts.text(plan, fields), history)
        return prepared

    def write(self, prepared: _Prepared, progress: Progress) -> None:
        statuses = self._check_still_valid(prepared.plans, progress)
        _write_batch(self.session, self.actor, self.product_id, prepared, statuses, progress)

    def _check_still_valid(self, batch: list[Plan], progress: Progress) -> dict[int, Status]:
        """What the check relied on still holds (read under this batch's lock); the
        product's statuses by id."""
        session, first = self.session, batch[0].line
        try:
            product = get_product(session, self.product_id)
        except NotFound:
            raise progress.interrupted(first, "the product was deleted.") from None
        statuses = {status.id: status for status in product.statuses}
        forget_scopes(session)
        if _access(scope_of(session, self.actor), self.product_id) != self.access:
            raise progress.interrupted(first, "your access to the product changed.")
        used: dict[int, int] = {}  # status id → the first line naming it
        for plan in batch:
            used.setdefault(plan.status_id, plan.line)
            if isinstance(plan, CardUpdate):
                used.setdefault(plan.old_status_id, plan.line)
        for status_id, line in used.items():
            status = statuses.get(status_id)
            if status is None or (status.name, status.group) != self.statuses[status_id]:
                raise progress.interrupted(line, f"status {status_id} was changed or deleted.")
        _check_exist(session, User, "owner_id", "the owner (user {}) was deleted.", batch, progress)
        _check_exist(session, Contact, "contact_id", "contact {} was deleted.", batch, progress)
        return statuses


def _write_batch(
    session: Session,
    actor: User | None,
    product_id: int,
    prepared: _Prepared,
    statuses: dict[int, Status],
    progress: Progress,
) -> None:
    batch, now, stamp = prepared.plans, prepared.now, prepared.stamp
    updates = [plan for plan in batch if isinstance(plan, CardUpdate)]
    live = _live_cards(session, updates, progress)
    new_ids = iter(reserve_ids(session, Card.__table__, len(batch) - len(updates)))
    card_rows: list[dict[str, Any]] = []
    update_rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    events: list[tuple[Any, dict[str, Any], JsonText | None]] = []
    actor_id = actor.id if actor else None
    # Read under the product's share lock, like the ORM's writes (``cards.amount``).
    money = product_money_key(session.connection(), product_id)

    def record(card_id: int, item: Recorded, history_data: Any, text: JsonText | None) -> None:
        history.append(
            {
                "card_id": card_id,
                "task_id": None,
                "type": item.history_type,
                "at": now,
                "user_id": actor_id,
                "data": history_data,
                "positive": item.positive,
            }
        )
        events.append((item.event_type, item.event_data, text))

    for plan in batch:
        if isinstance(plan, NewCard):
            new = prepared.new[plan.line]
            text = new.fill(next(new_ids))
            new.row["amount_cents"] = amount_cents(plan.fields, money)
            card_rows.append(new.row)
            history.append(new.history)
            events.append((new.item.event_type, new.item.event_data, text))
            continue
        status = statuses[plan.status_id]
        next_task_due, contact_ids, secret = live[plan.card_id]
        version = plan.version + 1
        update_rows.append(
            {
                "b_id": plan.card_id,
                "b_version": plan.version,
                "status_id": plan.status_id,
                "title": plan.title,
                "search_text": card_search_text(plan.title, plan.fields),
                "amount_cents": amount_cents(plan.fields, money),
                "owner_id": plan.owner_id,
                "contact_id": plan.contact_id,
                "fields": plan.fields,
                "updated_at": now,
                "version": version,
            }
        )
        created = isoformat_z(plan.created_at) or ""
        values = _card_values(
            product_id, status.id, status.group, plan, contact_ids, next_task_due, created, version
        )
        after = {
            "id": plan.card_id,
            "email_address": address_of(plan.card_id, secret),
            **values,
            "updated_at": stamp,
        }
        old = statuses[plan.old_status_id]
        for item in change_records(plan.diff, old, status, after):
            record(plan.card_id, item, item.history_data, None)

    execute_many(session, insert(Card), card_rows)
    execute_many(session, UPDATE_CARD, update_rows)
    execute_many(session, insert(CardHistory), history)
    insert_events(session, events, actor=actor, at=now)  # last: see insert_events


class _NewCardTexts:
    """``json.dumps`` of a new card's ``card_data`` after its first key (``"id": N, ``), to
    be joined to the id under the lock: the same text, made from each value's own JSON (the
    fields are already serialized for the row), around what all the cards of a status share
    in a batch (made once), in a fraction of the time."""

    def __init__(self, product_id: int, statuses: dict[int, tuple[str, str]], stamp: str) -> None:
        self.product_id, self.statuses = product_id, statuses
        self.stamp = _json_str(stamp)
        self._parts: dict[int, tuple[str, str]] = {}

    def text(self, plan: NewCard, fields: str) -> str:
        head, tail = self._parts.get(plan.status_id) or self._status_parts(plan.status_id)
        return (
            f'{head}"title": {_json_str(plan.title)}, "owner_id": {_json_int(plan.owner_id)}, '
            f'"contact_id": {_json_int(plan.contact_id)}, "contact_ids": [], '
            f'"fields": {fields}{tail}'
        )

    def _status_parts(self, status_id: int) -> tuple[str, str]:
        group = self.statuses[status_id][1]
        head = (
            f'"product_id": {self.product_id}, "status_id": {status_id}, '
            f'"status_group": {_json_str(group)}, '
        )
        tail = (
            f', "next_task_due": null, "closed": {"true" if group in CLOSED_GROUPS else "false"}, '
            f'"trashed": false, "created_at": {self.stamp}, "updated_at": {self.stamp}, '
            '"version": 1}'
        )
        self._parts[status_id] = (head, tail)
        return head, tail


def _json_int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _card_values(
    product_id: int,
    status_id: int,
    group: str,
    values: Plan,
    contact_ids: list[int],
    next_task_due: datetime | None,
    created_at: str,
    version: int,
) -> dict[str, Any]:
    """``cards.schemas.card_data`` of a card a batch writes, from its values, without its
    ``id`` (the first key); ``updated_at`` is ``created_at`` (a new card's)."""
    return {
        "product_id": product_id,
        "status_id": status_id,
        "status_group": group,
        "title": values.title,
        "owner_id": values.owner_id,
        "contact_id": values.contact_id,
        "contact_ids": contact_ids,
        "fields": dict(values.fields),
        "next_task_due": isoformat_z(next_task_due),
        "closed": group in CLOSED_GROUPS,
        "trashed": False,
        "created_at": created_at,
        "updated_at": created_at,
        "version": version,
    }


#: A changed card's one UPDATE, only if it is still at the version the check saw.
UPDATE_CARD = (
    update(Card)
    .where(Card.id == bindparam("b_id"), Card.version == bindparam("b_version"))
    .values(
        status_id=bindparam("status_id"),
        title=bindparam("title"),
        search_text=bindparam("search_text"),
        amount_cents=bindparam("amount_cents"),
        owner_id=bindparam("owner_id"),
        contact_id=bindparam("contact_id"),
        fields=bindparam("fields"),
        updated_at=bindparam("updated_at"),
        version=bindparam("version"),
    )
)


def _check_exist(
    session: Session,
    model: Any,
    attribute: str,
    message: str,
    batch: list[Plan],
    progress: Progress,
) -> None:
    wanted = {getattr(plan, attribute) for plan in batch} - {None}
    if not wanted:
        return
    found = set(session.scalars(select(model.id).where(model.id.in_(wanted))))
    for plan in batch:
        if getattr(plan, attribute) not in found | {None}:
            raise progress.interrupted(plan.line, message.format(getattr(plan, attribute)))


def _live_cards(
    session: Session, updates: list[CardUpdate], progress: Progress
) -> dict[int, tuple[datetime | None, list[int], str]]:
    """The changed cards as they are now (locked on PostgreSQL): their deadline and other
    contacts, which the events carry; the import stops if one changed since the check."""
    if not updates:
        return {}
    ids = [plan.card_id for plan in updates]
    rows = {
        row.id: row
        for row in session.execute(
            select(
                Card.id,
                Card.version,
                Card.owner_id,
                Card.contact_id,
                Card.trashed_at,
                Card.next_task_due,
                Card.email_secret,
            )
            .where(Card.id.in_(ids))
            .with_for_update()
        )
    }
    links: dict[int, list[int]] = {card_id: [] for card_id in ids}
    for card_id, contact_id in session.execute(
        select(CardContact.card_id, CardContact.contact_id)
        .where(CardContact.card_id.in_(ids))
        .order_by(CardContact.card_id, CardContact.contact_id)
    ):
        links[card_id].append(contact_id)
    live = {}
    for plan in updates:
        row = rows.get(plan.card_id)
        if row is None:
            raise progress.interrupted(plan.line, f"card {plan.card_id} was deleted.")
        if (row.version, row.owner_id, row.contact_id, row.trashed_at) != (
            plan.version,
            plan.owner_before,
            plan.contact_before,
            None,
        ):
            raise progress.interrupted(
                plan.line, f"card {plan.card_id} changed after the file was checked."
            )
        live[plan.card_id] = (row.next_task_due, links[plan.card_id], row.email_secret)
    return live
