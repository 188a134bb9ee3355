"""The event feed: a transactional outbox of every change in core, read by other services."""

from .outbox import Event, EventNotifier, install, read_events, record_event

__all__ = ["Event", "EventNotifier", "install", "read_events", "record_event"]
