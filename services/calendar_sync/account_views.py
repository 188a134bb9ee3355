"""HTTP API of CalDAV accounts: connect one (checked on the server), list with sync state,
ask for a sync now, remove."""

from __future__ import annotations

from typing import Any

from flask import current_app

from .accounts import add_account, get_account, list_accounts, remove_account, request_sync
from .api import API_PREFIX, ApiBlueprint
from .db import get_session
from .schemas import AccountCreateSchema, AccountSchema

bp = ApiBlueprint("caldav", __name__, tag="CalDAV accounts", url_prefix=API_PREFIX)


@bp.operation(
    "/caldav",
    "POST",
    body=AccountCreateSchema,
    response=AccountSchema,
    status=201,
    errors=(409, 422),
)
def create_account(user: dict[str, Any], body: dict[str, Any]) -> Any:
    """Connect a CalDAV account; the server is checked before anything is stored.

    The calendar named `calendar` (default `cardcrm`) is found or made. A 422 says what failed:
    `url` (no CalDAV server there), `password` (refused) or `calendar` (cannot be made or
    takes no to-dos). Every open task of the caller is then pushed by the sync worker.
    """
    context = current_app.extensions["calendar_sync"]
    account = add_account(get_session(), context, user, body)
    return get_account(get_session(), user["id"], account.id)


@bp.operation("/caldav", response=AccountSchema, many=True)
def accounts(user: dict[str, Any]) -> Any:
    """The caller's CalDAV accounts with `last_sync_at`, `last_error` and `pending`."""
    return list_accounts(get_session(), user["id"])


@bp.operation("/caldav/<int:account_id>", response=AccountSchema, errors=(404,))
def account(user: dict[str, Any], account_id: int) -> Any:
    """One of the caller's CalDAV accounts."""
    return get_account(get_session(), user["id"], account_id)


@bp.operation("/caldav/<int:account_id>/sync", "POST", response=AccountSchema, errors=(404,))
def sync_now(user: dict[str, Any], account_id: int) -> Any:
    """Sync the account at the worker's next round, even while it backs off after errors."""
    return request_sync(get_session(), user["id"], account_id)


@bp.operation("/caldav/<int:account_id>", "DELETE", status=204, errors=(404,))
def delete_account(user: dict[str, Any], account_id: int) -> None:
    """Disconnect a CalDAV account; the to-dos already in its calendar stay there."""
    remove_account(get_session(), user["id"], account_id)
