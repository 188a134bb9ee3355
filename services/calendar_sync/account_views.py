"""HTTP API of CalDAV accounts: connect one (checked on the server), list with sync state,
ask for a sync now, remove."""

from __future__ import annotations

from typing import Any

from cardcrm.common.api import API_PREFIX, ApiBlueprint
from cardcrm.common.db import get_session
from cardcrm.sidecar.auth import current_user
from flask import current_app

from .accounts import add_account, get_account, list_accounts, remove_account, request_sync
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
def create_account(body: dict[str, Any]) -> Any:
    """Connect a CalDAV account; the server is checked before anything is stored.

    The calendar named `calendar` (default `cardcrm`) is found or made. A 422 says what failed:
    `url` (no CalDAV server there), `password` (refused) or `calendar` (cannot be made or
    takes no to-dos). Every open task of the caller is then pushed by the sync worker.
    """
    user = current_user()
    context = current_app.extensions["calendar_sync"]
    account = add_account(get_session(), context, user, body)
    return get_account(get_session(), user["id"], account.id)


@bp.operation("/caldav", response=AccountSchema, paginated=True)
def accounts() -> Any:
    """The caller's CalDAV accounts with `last_sync_at`, `last_error` and `pending`."""
    user = current_user()
    return list_accounts(get_session(), user["id"])


@bp.operation("/caldav/<int:account_id>", response=AccountSchema, errors=(404,))
def account(account_id: int) -> Any:
    """One of the caller's CalDAV accounts."""
    user = current_user()
    return get_account(get_session(), user["id"], account_id)


@bp.operation("/caldav/<int:account_id>/sync", "POST", response=AccountSchema, errors=(404,))
def sync_now(account_id: int) -> Any:
    """Sync the account at the worker's next round, even while it backs off after errors: a
    full round, which also checks the calendar against core and sends again the to-dos the
    server refused."""
    user = current_user()
    return request_sync(get_session(), user["id"], account_id)


@bp.operation("/caldav/<int:account_id>", "DELETE", status=204, errors=(404,))
def delete_account(account_id: int) -> None:
    """Disconnect a CalDAV account; the to-dos already in its calendar stay there."""
    user = current_user()
    remove_account(get_session(), user["id"], account_id)
