"""The event contract: every event type core records, and the payload (``data``) each carries.

Core's outbox (``cardcrm.core.events``) records events only through ``EventType`` and checks
each payload with ``validate_event``; the sidecars dispatch on the same members. docs/events.md
is the list for people; tests check that it names every member, that core emits every type and
that every event core records validates here.

Payloads are the object as core's API shows it after the change, plus a few keys that describe
the change (``changes``, ``before``, ``repeat_of``, ``merged_id``). The schemas are strict:
a key the contract does not name is refused, so a field added to an API object must be added
here (and to docs/events.md) too, or core's own tests fail.

Decision: the outbox validates every payload, always, not only in tests. Measured (SQLite,
2 cores): a card payload validates in about 0.04 ms, a product with the sales template's
statuses and fields in 0.25 ms, against about 3.8 ms for a whole ``PATCH /cards/{id}`` that
records one event (1 %). An event that breaks the contract is a bug that would otherwise reach
every sidecar and webhook, so it is refused where it is made, failing that write.

Readers (the sidecars) must stay lenient: they compare ``event["type"]`` with the members
(``EventType`` is a ``StrEnum``, equal to its string) and pass over types they do not know, since
a newer core may add types.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from marshmallow import Schema, fields, validate

__all__ = [
    "CARD_SNAPSHOTS",
    "PAYLOAD_SCHEMAS",
    "TASK_SNAPSHOTS",
    "EventContractError",
    "EventType",
    "validate_event",
]


class EventType(StrEnum):
    """Every type of event core records. Never rename one: readers and webhooks match on them."""

    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"  # also when its statuses change
    PRODUCT_DELETED = "product.deleted"  # gone for good, with its cards
    PRODUCT_MEMBERS_CHANGED = "product.members_changed"

    CARD_CREATED = "card.created"
    CARD_UPDATED = "card.updated"
    CARD_STATUS_CHANGED = "card.status_changed"
    CARD_DELETED = "card.deleted"  # moved to the trash: CARD_RESTORED brings it back
    CARD_RESTORED = "card.restored"
    CARD_PURGED = "card.purged"  # deleted from the trash for good, with its tasks

    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_CLOSED = "task.closed"
    TASK_REOPENED = "task.reopened"
    TASK_POSTPONED = "task.postponed"
    TASK_DELETED = "task.deleted"  # gone for good

    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_DELETED = "contact.deleted"  # gone for good
    CONTACT_MERGED = "contact.merged"

    NOTE_CREATED = "note.created"
    NOTE_UPDATED = "note.updated"
    NOTE_DELETED = "note.deleted"  # gone for good
    EMAIL_RECEIVED = "email.received"  # a message sent to a card's address was filed on it

    FILE_ADDED = "file.added"
    FILE_REMOVED = "file.removed"  # the file as it was (not sent for a card purged with its files)


#: Events whose ``data`` is the card as it is after the change (the card still exists).
CARD_SNAPSHOTS = frozenset(
    {
        EventType.CARD_CREATED,
        EventType.CARD_UPDATED,
        EventType.CARD_STATUS_CHANGED,
        EventType.CARD_DELETED,
        EventType.CARD_RESTORED,
    }
)
#: Events whose ``data`` is the task as it is after the change (the task still exists).
TASK_SNAPSHOTS = frozenset(
    {
        EventType.TASK_CREATED,
        EventType.TASK_UPDATED,
        EventType.TASK_CLOSED,
        EventType.TASK_REOPENED,
        EventType.TASK_POSTPONED,
    }
)


class EventContractError(ValueError):
    """An event that breaks the contract: an unknown type, or a payload that does not fit."""

    def __init__(self, type: str, messages: Any) -> None:
        super().__init__(f"event {str(type)!r} breaks the contract: {messages}")
        self.type = type
        self.messages = messages


# --- payload schemas ------------------------------------------------------------------------
# Every key is required: core always writes the whole object. ``None`` only where allowed.

#: Status groups and task states, as core's API names them.
STATUS_GROUPS = ("inactive", "in_progress", "positive", "negative")
TASK_STATES = ("open", "done", "cancelled")


def _instant(**options: Any) -> fields.Field[Any]:
    """An RFC 3339 instant with an offset (core writes UTC with ``Z``)."""
    return fields.AwareDateTime(format="iso", required=True, **options)


def _integer(**options: Any) -> fields.Field[Any]:
    return fields.Integer(required=True, strict=True, **options)


def _string(**options: Any) -> fields.Field[Any]:
    return fields.String(required=True, **options)


def _optional_string() -> fields.Field[Any]:
    return fields.String(required=True, allow_none=True)


class ChangeSchema(Schema):
    """One changed value of ``changes``: ``{"before", "after"}`` (any JSON values)."""

    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


def _changes() -> fields.Field[Any]:
    """``changes``: what changed, by field name (``fields.<key>`` for custom fields)."""
    return fields.Dict(keys=fields.String(), values=fields.Nested(ChangeSchema), required=True)


class StatusSchema(Schema):
    id = _integer()
    product_id = _integer()
    name = _string()
    group = _string(validate=validate.OneOf(STATUS_GROUPS))
    position = _integer()


class FieldDefinitionSchema(Schema):
    key = _string()
    label = _string()
    type = _string()
    required = fields.Boolean()
    choices = fields.List(fields.String())
    currency = fields.String()


class TaskTypeSchema(Schema):
    key = _string()
    label = _string()


class ProductSchema(Schema):
    id = _integer()
    name = _string()
    slug = _string()
    template = _optional_string()
    statuses = fields.List(fields.Nested(StatusSchema), required=True)
    fields_ = fields.List(fields.Nested(FieldDefinitionSchema), data_key="fields", required=True)
    task_types = fields.List(fields.Nested(TaskTypeSchema), required=True)
    created_at = _instant()
    updated_at = _instant()
    version = _integer()


class MemberSchema(Schema):
    user_id = _integer()
    own_cards_only = fields.Boolean(required=True)


class ProductMembersSchema(Schema):
    """A product's whole member list after the change."""

    id = _integer()
    members = fields.List(fields.Nested(MemberSchema), required=True)


class CardSchema(Schema):
    id = _integer()
    product_id = _integer()
    status_id = _integer()
    status_group = _string(validate=validate.OneOf(STATUS_GROUPS))
    title = _string()
    owner_id = _integer(allow_none=True)
    contact_id = _integer(allow_none=True)
    contact_ids = fields.List(fields.Integer(strict=True), required=True)
    email_address = _string()  # card-<id>-<secret>@<domain>: mail sent there lands on the card
    fields_ = fields.Dict(keys=fields.String(), data_key="fields", required=True)
    next_task_due = _instant(allow_none=True)
    closed = fields.Boolean(required=True)
    trashed = fields.Boolean(required=True)
    created_at = _instant()
    updated_at = _instant()
    version = _integer()


class CardUpdatedSchema(CardSchema):
    changes = _changes()


class StatusBeforeSchema(Schema):
    status_id = _integer()
    status_group = _string(validate=validate.OneOf(STATUS_GROUPS))


class CardStatusChangedSchema(CardSchema):
    before = fields.Nested(StatusBeforeSchema, required=True)


class TaskSchema(Schema):
    id = _integer()
    card_id = _integer()
    product_id = _integer()
    text = _string()
    type = _string()
    assignee_id = _integer(allow_none=True)
    due = _instant()
    due_date = fields.Date(required=True, allow_none=True)  # the date of an all-day task
    all_day = fields.Boolean(required=True)
    status = _string(validate=validate.OneOf(TASK_STATES))
    closed_at = _instant(allow_none=True)
    closed_by_id = _integer(allow_none=True)
    postponed_count = _integer()
    repeat = fields.Dict(required=True, allow_none=True)
    created_at = _instant()
    updated_at = _instant()
    version = _integer()


class TaskCreatedSchema(TaskSchema):
    #: Only on the next occurrence of a recurring task, opened by closing this one.
    repeat_of = fields.Integer(strict=True)


class TaskUpdatedSchema(TaskSchema):
    changes = _changes()


class DueBeforeSchema(Schema):
    due = _instant()
    due_date = fields.Date(required=True, allow_none=True)


class TaskPostponedSchema(TaskSchema):
    before = fields.Nested(DueBeforeSchema, required=True)


class ContactSchema(Schema):
    id = _integer()
    kind = _string(validate=validate.OneOf(("person", "company")))
    name = _string()
    emails = fields.List(fields.String(), required=True)
    phones = fields.List(fields.String(), required=True)
    company_id = _integer(allow_none=True)
    position = _optional_string()
    notes = _optional_string()
    registration_number = _optional_string()
    address = _optional_string()
    website = _optional_string()
    fields_ = fields.Dict(keys=fields.String(), data_key="fields", required=True)
    created_at = _instant()
    updated_at = _instant()
    version = _integer()


class ContactUpdatedSchema(ContactSchema):
    changes = _changes()


class ContactMergedSchema(ContactSchema):
    #: The contact folded into this one (it no longer exists).
    merged_id = _integer()


class NoteSchema(Schema):
    """A note as core's API shows it, plus its card's product and owner (so that a reader can
    tell who may see it without asking core)."""

    id = _integer()
    card_id = _integer()
    author_id = _integer(allow_none=True)
    body = _string()
    html = _string()
    #: The mentioned users who may see the card (others are left out and not told).
    mentions = fields.List(fields.Integer(strict=True), required=True)
    created_at = _instant()
    updated_at = _instant()
    version = _integer()
    product_id = _integer()
    owner_id = _integer(allow_none=True)


class EmailReceivedSchema(Schema):
    """An e-mail filed on a card, as ``GET /emails/{id}`` shows it but for its bodies (``text``
    and ``html``: read them there), plus the card's product and owner for access rules."""

    id = _integer()
    card_id = _integer()
    product_id = _integer()
    owner_id = _integer(allow_none=True)
    from_ = _string(data_key="from")
    to = fields.List(fields.String(), required=True)
    cc = fields.List(fields.String(), required=True)
    subject = _string()
    received_at = _instant()
    message_id = _optional_string()
    files = fields.List(fields.Dict(), required=True)  # the files made from its attachments


class FileSchema(Schema):
    """A card's file as ``GET /files/{id}`` shows it, plus the card's ``product_id`` and
    ``owner_id`` (so that a reader can apply the card's access rule without asking core)."""

    id = _integer()
    card_id = _integer()
    name = _string()
    size = _integer()
    content_type = _string()
    sha256 = _string(validate=validate.Regexp("^[0-9a-f]{64}$"))
    uploaded_by = _integer(allow_none=True)
    created_at = _instant()
    product_id = _integer()
    owner_id = _integer(allow_none=True)


class NoteUpdatedSchema(NoteSchema):
    #: The mentions this edit added: the only ones to notify again.
    new_mentions = fields.List(fields.Integer(strict=True), required=True)


#: The schema of each type's ``data``; a test keeps it complete.
PAYLOAD_SCHEMAS: dict[EventType, type[Schema]] = {
    EventType.PRODUCT_CREATED: ProductSchema,
    EventType.PRODUCT_UPDATED: ProductSchema,
    EventType.PRODUCT_DELETED: ProductSchema,
    EventType.PRODUCT_MEMBERS_CHANGED: ProductMembersSchema,
    EventType.CARD_CREATED: CardSchema,
    EventType.CARD_UPDATED: CardUpdatedSchema,
    EventType.CARD_STATUS_CHANGED: CardStatusChangedSchema,
    EventType.CARD_DELETED: CardSchema,
    EventType.CARD_RESTORED: CardSchema,
    EventType.CARD_PURGED: CardSchema,  # the card as it was
    EventType.TASK_CREATED: TaskCreatedSchema,
    EventType.TASK_UPDATED: TaskUpdatedSchema,
    EventType.TASK_CLOSED: TaskSchema,
    EventType.TASK_REOPENED: TaskSchema,
    EventType.TASK_POSTPONED: TaskPostponedSchema,
    EventType.TASK_DELETED: TaskSchema,  # the task as it was
    EventType.CONTACT_CREATED: ContactSchema,
    EventType.CONTACT_UPDATED: ContactUpdatedSchema,
    EventType.CONTACT_DELETED: ContactSchema,  # the contact as it was
    EventType.CONTACT_MERGED: ContactMergedSchema,
    EventType.NOTE_CREATED: NoteSchema,
    EventType.NOTE_UPDATED: NoteUpdatedSchema,
    EventType.NOTE_DELETED: NoteSchema,  # the note as it was
    EventType.EMAIL_RECEIVED: EmailReceivedSchema,
    EventType.FILE_ADDED: FileSchema,
    EventType.FILE_REMOVED: FileSchema,  # the file as it was
}
# One instance per schema: marshmallow builds its fields on instantiation, the costly part.
_VALIDATORS: dict[EventType, Schema] = {kind: schema() for kind, schema in PAYLOAD_SCHEMAS.items()}


def event_type(type: str) -> EventType:
    """The member named by ``type``; ``EventContractError`` for a type the contract lacks."""
    try:
        return EventType(type)
    except ValueError:
        raise EventContractError(type, "unknown event type") from None


def validate_event(type: str, payload: dict[str, Any]) -> EventType:
    """Check an event against the contract; returns its type, raises ``EventContractError``."""
    kind = event_type(type)
    errors = _VALIDATORS[kind].validate(payload)
    if errors:
        raise EventContractError(kind, errors)
    return kind
