"""The core service: users, products, statuses, cards, tasks, history and the event feed."""

from .app import create_app

__all__ = ["create_app"]
