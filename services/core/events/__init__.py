"""The event feed: a transactional outbox of every change in core, read by other services."""

from .outbox import (
    DatabaseIncarnation,
    Event,
    EventNotifier,
    install,
    read_events,
    record_event,
)

__all__ = [
    "DatabaseIncarnation",
    "Event",
    "EventNotifier",
    "install",
    "read_events",
    "record_event",
]
