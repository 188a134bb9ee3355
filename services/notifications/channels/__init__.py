"""Notification channels: a package with a base class (``base.Channel``) and one module per
built-in channel (``inapp``, ``email``, ``webhook``), each a default plugin registered through
the ``cardcrm_notification_channels`` hook like a third-party channel would be."""

from .base import Channel, Content, DeliveryError, Message, PermanentFailure, TemporaryFailure

__all__ = [
    "Channel",
    "Content",
    "DeliveryError",
    "Message",
    "PermanentFailure",
    "TemporaryFailure",
]
