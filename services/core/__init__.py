"""The core service: users, products, statuses, cards, tasks, history and the event feed.

``create_app`` is loaded on first use, so that importing only the hook specifications
(``cardcrm.core.hookspecs``, as plugins do) does not build the service.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        return importlib.import_module(".app", __name__).create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
