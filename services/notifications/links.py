"""Links into core's web UI that messages carry: where the UI is, and its pages' addresses.

A leaf: messages need it without the rest of the service's context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_CORE_URL = "http://127.0.0.1:8000"
#: The prefix ``cardcrm up`` mounts this service under (its PUBLIC_URL ends with it).
MOUNT_PREFIX = "/notifications"


@dataclass(frozen=True)
class Links:
    """Addresses in core's web UI that messages link to."""

    base: str

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Links:
        # CORE_PUBLIC_URL is where people open core's UI (CARDCRM_PUBLIC_URL); without it the
        # UI is just above this service's own PUBLIC_URL (as nginx and `cardcrm up` mount it),
        # else at CORE_URL.
        own = (settings.get("PUBLIC_URL") or "").rstrip("/").removesuffix(MOUNT_PREFIX)
        base = (
            settings.get("CORE_PUBLIC_URL") or own or settings.get("CORE_URL") or DEFAULT_CORE_URL
        )
        return cls(base.rstrip("/"))

    def card(self, card_id: int) -> str:
        return f"{self.base}/cards/{card_id}"

    def today(self) -> str:
        return f"{self.base}/"
