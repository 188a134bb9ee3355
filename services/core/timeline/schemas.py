"""Request and response schemas of a card's timeline."""

from __future__ import annotations

from typing import Any

from cardcrm.common.pagination import PageArgsSchema
from cardcrm.common.schema_fields import Instant
from cardcrm.common.translate import gettext as _
from marshmallow import Schema, ValidationError, fields, post_load, validate

#: The kinds the API names; a feature not installed simply gives no items of its kind.
KINDS = ("note", "email", "file", "task", "history")


class TimelineArgsSchema(PageArgsSchema):
    kind = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=20),
        metadata={
            "description": "Kinds to keep (repeatable or comma-separated): "
            + ", ".join(KINDS)
            + ". Without it, every kind."
        },
    )

    @post_load
    def _kinds(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        from . import SOURCES

        known = set(KINDS) | set(SOURCES)
        wanted = [part.strip() for text in data.get("kind") or [] for part in text.split(",")]
        wanted = [kind for kind in wanted if kind]
        unknown = sorted({kind for kind in wanted if kind not in known})
        if unknown:
            raise ValidationError(
                {
                    "kind": [
                        _(
                            "No kind %(unknown)s; the kinds are %(kinds)s.",
                            unknown=", ".join(unknown),
                            kinds=", ".join(KINDS),
                        )
                    ]
                }
            )
        data["kind"] = list(dict.fromkeys(wanted))
        return data


class TaskChangeSchema(Schema):
    """What happened to the task at this point (a row of the card's history)."""

    history_id = fields.Integer()
    type = fields.String(metadata={"description": "task.created, task.closed, task.postponed..."})
    user_id = fields.Integer(allow_none=True, metadata={"description": "Who did it."})
    data = fields.Dict(metadata={"description": "As in the card's history."})


class TimelineTaskSchema(Schema):
    """The task as ``GET /tasks/{id}`` shows it now, with the change; a task deleted since is
    ``{"id", "deleted": true, "change"}``."""

    id = fields.Integer()
    deleted = fields.Boolean(metadata={"description": "Present (true) when the task is gone."})
    change = fields.Nested(TaskChangeSchema)


class TimelineItemSchema(Schema):
    """One item: ``kind``, ``at``, ``id`` (``<kind>-<id>``) and the object under its kind's
    name (only that one is present)."""

    kind = fields.String(validate=validate.OneOf(KINDS))
    at = Instant()
    id = fields.String(metadata={"description": "Unique in the timeline, e.g. note-12."})
    note = fields.Dict(metadata={"description": "The note as GET /notes/{id} shows it."})
    email = fields.Dict(metadata={"description": "The e-mail as GET /cards/{id}/emails shows it."})
    file = fields.Dict(metadata={"description": "The file as GET /files/{id} shows it."})
    task = fields.Dict(
        metadata={
            "description": "The task as GET /tasks/{id} shows it now (or {id, deleted: true} "
            "when it is gone), plus change: {history_id, type, user_id, data}."
        }
    )
    history = fields.Dict(
        metadata={
            "description": "A row of the card's history as GET /cards/{id}/history shows it "
            "({id, type, at, user_id, task_id, data})."
        }
    )
