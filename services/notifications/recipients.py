"""Who gets a notification: the one place that decides.

Every rule (event rules, reminders, digests) names candidate users and asks ``Recipients``,
which keeps those who switched the rule on and may see the card it is about under core's
access rules (``access.may_see``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from cardcrm.sidecar.core_client import CoreClient, CoreError, CoreUnavailable
from sqlalchemy.orm import Session

from .access import CardRef, may_see
from .preferences.effective import UserPreferences
from .preferences.lookup import preferences_for

if TYPE_CHECKING:
    from .secretbox import SecretBox


class Recipients:
    def __init__(self, box: SecretBox, client: CoreClient) -> None:
        self.box = box
        self.client = client

    def decide(
        self,
        session: Session,
        rule: str,
        candidates: Iterable[int | None],
        card: CardRef | None = None,
    ) -> list[UserPreferences]:
        """The candidates who get a notification of ``rule`` (about ``card``), each with their
        preferences in effect; every user at most once."""
        chosen = []
        for user_id in dict.fromkeys(user for user in candidates if user is not None):
            preferences = preferences_for(session, user_id, self.box)
            if preferences.wants(rule) and (
                card is None or may_see(session, user_id, card, self.is_admin)
            ):
                chosen.append(preferences)
        return chosen

    def is_admin(self, user_id: int) -> bool:
        """Asked of core (cached); ``CoreUnavailable`` propagates, so the caller retries."""
        try:
            user = self.client.user(user_id)
        except CoreUnavailable:
            raise
        except CoreError:
            return False
        return bool(user and user.get("is_admin"))
