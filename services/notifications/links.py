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
        # PUBLIC_URL is core's public URL (CARDCRM_PUBLIC_URL). `cardcrm up` gives this
        # service its own mounted URL instead; the UI is then just above it.
        base = settings.get("CORE_PUBLIC_URL") or (settings.get("PUBLIC_URL") or "").rstrip("/")
        base = base.removesuffix(MOUNT_PREFIX) or settings.get("CORE_URL") or DEFAULT_CORE_URL
        return cls(base.rstrip("/"))

    def card(self, card_id: int) -> str:
        return f"{self.base}/cards/{card_id}"

    def today(self) -> str:
        return f"{self.base}/"
