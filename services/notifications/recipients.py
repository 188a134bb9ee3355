"""Who gets a notification: the one place that decides.

Every rule (event rules, reminders, digests) names candidate users and asks ``decide``, which
keeps those who switched the rule on and may see what it is about. Access to cards (issue 7:
product members, "own cards only") is to be checked in ``may_see_card``, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from .preferences.service import UserPreferences, preferences_for
from .secretbox import SecretBox


def decide(
    session: Session,
    box: SecretBox,
    rule: str,
    candidates: Iterable[int | None],
    card_id: int | None = None,
) -> list[UserPreferences]:
    """The candidates who get a notification of ``rule`` (about ``card_id``), each with their
    preferences in effect; every user at most once."""
    chosen = []
    for user_id in dict.fromkeys(user for user in candidates if user is not None):
        preferences = preferences_for(session, user_id, box)
        if preferences.wants(rule) and may_see_card(session, user_id, card_id):
            chosen.append(preferences)
    return chosen


def may_see_card(session: Session, user_id: int, card_id: int | None) -> bool:
    """Whether ``user_id`` may be told about ``card_id``.

    Until per-product access exists every user sees every card. When it does, answer from
    what the feed tells about memberships (kept in this service's database), never by
    reading core's tables.
    """
    return True
