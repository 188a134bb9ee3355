"""HTTP API of the delivery log: the caller's deliveries and their states."""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import ApiBlueprint, Page
from cardcrm.common.db import get_session, write_transaction
from cardcrm.common.errors import Conflict, NotFound
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.timeutil import utcnow
from cardcrm.sidecar.auth import current_user
from sqlalchemy import select

from .models import Delivery
from .schemas import DeliveryArgsSchema, DeliverySchema
from .service import requeue

bp = ApiBlueprint("deliveries", __name__, tag="Deliveries")


@bp.operation(
    "/deliveries",
    query=DeliveryArgsSchema,
    response=DeliverySchema,
    paginated=True,
    errors=(401,),
)
def list_deliveries(args: dict[str, Any]) -> Page:
    """The caller's deliveries, newest first: state, attempts and the last error of each."""
    before = (decode_cursor(args.get("cursor")) or {}).get("before")
    query = select(Delivery).where(Delivery.user_id == current_user()["id"])
    if isinstance(before, int):
        query = query.where(Delivery.id < before)
    if args.get("state"):
        query = query.where(Delivery.state == args["state"])
    if args.get("channel"):
        query = query.where(Delivery.channel == args["channel"])
    limit = args["limit"]
    rows = list(get_session().scalars(query.order_by(Delivery.id.desc()).limit(limit + 1)))
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = encode_cursor({"before": rows[-1].id})
    return Page(rows, cursor)


@bp.operation(
    "/deliveries/<int:delivery_id>/retry",
    "POST",
    response=DeliverySchema,
    errors=(401, 404, 409),
)
def retry_delivery(delivery_id: int) -> Any:
    """Send a dead delivery again, with a fresh set of attempts (after fixing the receiver)."""
    session = get_session()
    with write_transaction(session):
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.user_id != current_user()["id"]:
            raise NotFound(f"No delivery {delivery_id}.")
        if delivery.state != "dead":
            raise Conflict(f"Only dead deliveries are sent again; this one is {delivery.state}.")
        requeue(session, delivery, utcnow())
    return delivery
