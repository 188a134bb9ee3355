"""Errors only the core service raises; the shared ones are in ``cardcrm.common.errors``."""

from __future__ import annotations

from cardcrm.common.errors import Invalid


class StatusChangeRefused(Invalid):
    """A plugin vetoed a status change; its reasons are the detail."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__({"status_id": reasons}, detail=" ".join(reasons))
