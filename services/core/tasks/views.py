"""HTTP API of tasks: add to a card, list, edit, close, reopen, postpone, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cardcrm.common.api import JSON_MIMETYPE, ApiBlueprint, dumps, etag_for, expected_versions
from cardcrm.common.db import get_session
from cardcrm.common.errors import Invalid
from cardcrm.common.pagination import decode_cursor, encode_cursor
from cardcrm.common.translate import gettext as _
from flask import Response

from ..auth.service import current_user
from ..cards.fast import load_card
from . import service
from .models import Task
from .schemas import (
    SyncConflictSchema,
    TaskCloseSchema,
    TaskCreateSchema,
    TaskListArgsSchema,
    TaskPostponeSchema,
    TaskSchema,
    TaskUpdateSchema,
    task_json,
)

bp = ApiBlueprint("tasks", __name__, tag="Tasks")


@bp.operation(
    "/cards/<int:card_id>/tasks",
    "POST",
    body=TaskCreateSchema,
    response=TaskSchema,
    status=201,
    errors=(404, 409, 422),
    scope="tasks:write",
)
def create_task(card_id: int, body: dict[str, Any]) -> Any:
    """Add a task to a card (assigned to the caller unless ``assignee_id`` says otherwise)."""
    task = service.create_task(get_session(), current_user(), card_id, body)
    return _answer(task, 201, {"Location": f"/api/v1/tasks/{task.id}"})


@bp.operation(
    "/cards/<int:card_id>/tasks",
    query=TaskListArgsSchema,
    response=TaskSchema,
    paginated=True,
    errors=(404, 422),
)
def list_tasks(card_id: int, args: dict[str, Any]) -> Response:
    """A card's tasks by deadline; ``status`` keeps only open, done or cancelled ones."""
    session = get_session()
    # The access check of ``get_card(viewer=...)`` in one statement with the memberships.
    load_card(session, card_id, current_user())
    position = decode_cursor(args.get("cursor"))
    after = None
    if position is not None:
        try:
            after = (datetime.fromisoformat(position["due"]), int(position["id"]))
        except (KeyError, TypeError, ValueError) as error:
            raise Invalid({"cursor": [_("Not a cursor this API gave out.")]}) from error
    limit = args["limit"]
    tasks = service.list_task_rows(session, card_id, args.get("status"), after, limit + 1)
    cursor = None
    if len(tasks) > limit:
        tasks = tasks[:limit]
        cursor = encode_cursor({"due": tasks[-1].due.isoformat(), "id": tasks[-1].id})
    # The page ``_respond`` would answer with ``TaskSchema`` (tested byte for byte).
    items = [task_json(task) for task in tasks]
    return Response(dumps({"items": items, "next_cursor": cursor}), mimetype=JSON_MIMETYPE)


@bp.operation("/tasks/<int:task_id>", response=TaskSchema, errors=(404,), scope="tasks:read")
def get_task(task_id: int) -> Any:
    """Read a task."""
    return _answer(service.get_task(get_session(), task_id, viewer=current_user()))


@bp.operation(
    "/tasks/<int:task_id>",
    "PATCH",
    body=TaskUpdateSchema,
    response=TaskSchema,
    errors=(404, 409, 412, 422),
    scope="tasks:write",
)
def update_task(task_id: int, body: dict[str, Any]) -> Any:
    """Edit or reassign a task."""
    task = service.update_task(get_session(), current_user(), task_id, body, expected_versions())
    return _answer(task)


@bp.operation("/tasks/<int:task_id>", "DELETE", status=204, errors=(404, 409, 412))
def delete_task(task_id: int) -> None:
    """Delete a task (its history stays on the card)."""
    service.delete_task(get_session(), current_user(), task_id, expected_versions())


@bp.operation(
    "/tasks/<int:task_id>/close",
    "POST",
    body=TaskCloseSchema,
    response=TaskSchema,
    errors=(404, 409, 412, 422),
    scope="tasks:write",
)
def close_task(task_id: int, body: dict[str, Any]) -> Any:
    """Close a task as done (default) or cancelled, with an optional comment."""
    task = service.close_task(
        get_session(),
        current_user(),
        task_id,
        body["outcome"],
        body.get("comment"),
        expected_versions(),
    )
    return _answer(task)


@bp.operation(
    "/tasks/<int:task_id>/reopen",
    "POST",
    response=TaskSchema,
    errors=(404, 409, 412),
    scope="tasks:write",
)
def reopen_task(task_id: int) -> Any:
    """Reopen a closed task."""
    return _answer(service.reopen_task(get_session(), current_user(), task_id, expected_versions()))


@bp.operation(
    "/tasks/<int:task_id>/postpone",
    "POST",
    body=TaskPostponeSchema,
    response=TaskSchema,
    errors=(404, 409, 412, 422),
    scope="tasks:write",
)
def postpone_task(task_id: int, body: dict[str, Any]) -> Any:
    """Move a task to a later deadline; ``postponed_count`` grows and history keeps both."""
    task = service.postpone_task(
        get_session(), current_user(), task_id, body["due"], expected_versions()
    )
    return _answer(task)


@bp.operation(
    "/tasks/<int:task_id>/sync-conflicts",
    "POST",
    auth="events",
    body=SyncConflictSchema,
    status=204,
    errors=(403, 404, 409),
    scope="tasks:sync-conflicts",
)
def record_sync_conflict(task_id: int, body: dict[str, Any]) -> None:
    """Record the losing version of a sync conflict in the task's history (services only).

    A sidecar that settles a conflict by last change wins (e.g. calendar sync) keeps the
    version that lost here, so nothing the user entered is lost.
    """
    from ..auth.service import authenticated_principal

    service.record_sync_conflict(get_session(), authenticated_principal().user, task_id, body)


def _answer(task: Task, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """What ``_respond`` answers for the task dumped with ``TaskSchema`` (its ETag after the
    other headers), the dict built by ``task_json`` (tested byte for byte:
    ``tests/core/test_write_paths.py``)."""
    headers = {**(headers or {}), "ETag": etag_for(task.version)}
    return Response(dumps(task_json(task)), status=status, headers=headers, mimetype=JSON_MIMETYPE)
