"""Rules for CalDAV accounts: add (checked against the server), list with sync state, remove."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import write_transaction
from cardcrm.common.errors import Conflict, Invalid, NotFound
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from .mirror import queue, shown_tasks
from .models import CaldavAccount, MirrorTask, PendingPush, RemoteTodo
from .remote import AccountCheckFailed, check_account


def add_account(
    session: Session, context: Any, user: dict[str, Any], body: dict[str, Any]
) -> CaldavAccount:
    """Check the account on its server, store it, and queue every task the user sees.

    ``user`` is core's ``/me`` of the caller: its ``is_admin`` decides what the user sees.
    The URL goes through the outbound guard first: a private address is refused (422) before
    any connection, and the check's own connections are guarded again.
    """
    context.outbound.validate_url(body["url"], "url")
    try:
        calendar_url, calendar_name = check_account(
            body["url"], body["username"], body["password"], body.get("calendar"), context.outbound
        )
    except AccountCheckFailed as failure:
        raise Invalid({failure.field: [failure.message]}, detail=failure.message) from None
    with write_transaction(session):
        existing = session.scalar(
            select(CaldavAccount.id).where(
                CaldavAccount.user_id == user["id"],
                CaldavAccount.calendar_url == calendar_url,
                CaldavAccount.username == body["username"],
            )
        )
        if existing is not None:
            raise Conflict(
                f"This calendar is already connected (account {existing}).", existing_id=existing
            )
        now = context.clock()
        admin = bool(user.get("is_admin"))
        account = CaldavAccount(
            user_id=user["id"],
            url=body["url"],
            username=body["username"],
            password_encrypted=context.passwords.seal(body["password"]),
            calendar_name=calendar_name,
            calendar_url=calendar_url,
            timezone=user.get("timezone") or "UTC",
            created_at=now,
            shown_as_admin=admin,
        )
        session.add(account)
        session.flush()
        tasks = session.scalars(shown_tasks(user["id"], admin).with_only_columns(MirrorTask.id))
        queue(session, [(account.id, task_id) for task_id in tasks], now)
    return account


def list_accounts(session: Session, user_id: int) -> list[CaldavAccount]:
    """The user's accounts, each with ``pending``: the changes not yet pushed (those the
    server refused are named in ``last_error`` instead)."""
    pending = (
        select(PendingPush.account_id, func.count().label("pending"))
        .where(PendingPush.waiting())
        .group_by(PendingPush.account_id)
        .subquery()
    )
    rows = session.execute(
        select(CaldavAccount, func.coalesce(pending.c.pending, 0))
        .outerjoin(pending, pending.c.account_id == CaldavAccount.id)
        .where(CaldavAccount.user_id == user_id)
        .order_by(CaldavAccount.id)
    )
    accounts = []
    for account, count in rows:
        account.pending = count
        accounts.append(account)
    return accounts


def get_account(session: Session, user_id: int, account_id: int) -> CaldavAccount:
    for account in list_accounts(session, user_id):
        if account.id == account_id:
            return account
    raise NotFound(f"No CalDAV account {account_id}.")


def remove_account(session: Session, user_id: int, account_id: int) -> None:
    """Forget the account; what its calendar holds stays there."""
    with write_transaction(session):
        account = session.get(CaldavAccount, account_id)
        if account is None or account.user_id != user_id:
            raise NotFound(f"No CalDAV account {account_id}.")
        session.execute(delete(PendingPush).where(PendingPush.account_id == account_id))
        session.execute(delete(RemoteTodo).where(RemoteTodo.account_id == account_id))
        session.delete(account)


def request_sync(session: Session, user_id: int, account_id: int) -> CaldavAccount:
    """Sync the account at the worker's next round, without waiting for the backoff: a full
    one (every member listed, the calendar reconciled with core), and the to-dos the server
    refused are sent again (the user may have fixed what it refused them for)."""
    with write_transaction(session):
        account = session.get(CaldavAccount, account_id)
        if account is None or account.user_id != user_id:
            raise NotFound(f"No CalDAV account {account_id}.")
        account.retry_at = None
        account.pull_at = None
        account.sync_token = None
        session.execute(
            update(PendingPush)
            .where(PendingPush.account_id == account_id, PendingPush.refused())
            .values(generation=1)
        )
    return get_account(session, user_id, account_id)
