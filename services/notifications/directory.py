"""Names for messages: card titles (from the feed), people and status names (from core).

Lookups never fail a delivery: when core cannot answer, a message says "someone" or
"card #12" rather than waiting. Answers from core are kept for a few minutes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from cardcrm.common.db import Database
from cardcrm.sidecar.core_client import CoreClient, CoreError, CoreUnavailable
from flask_babel import gettext as _
from sqlalchemy import select

from .known_cards import KnownCard

log = logging.getLogger(__name__)

PRODUCT_TTL_SECONDS = 120.0


class Directory:
    def __init__(self, db: Database, client: CoreClient) -> None:
        self.db = db
        self.client = client
        self._products: dict[int, tuple[float, dict[str, Any] | None]] = {}
        self._cards: dict[int, KnownCard | None] = {}

    def prefetch_cards(self, card_ids: Iterable[int | None]) -> None:
        """Read these cards in one query, for the messages of one batch (forgets the rest)."""
        wanted = {card_id for card_id in card_ids if card_id is not None}
        self._cards = dict.fromkeys(wanted)
        if wanted:
            with self.db.sessions() as session:
                for card in session.scalars(select(KnownCard).where(KnownCard.id.in_(wanted))):
                    self._cards[card.id] = card

    def card(self, card_id: int | None) -> KnownCard | None:
        if card_id is None:
            return None
        if card_id not in self._cards:
            with self.db.sessions() as session:
                self._cards[card_id] = session.get(KnownCard, card_id)
        return self._cards[card_id]

    def card_title(self, card_id: int | None) -> str:
        card = self.card(card_id)
        return card.title if card is not None and card.title else _("card #%(id)s", id=card_id)

    def person(self, user_id: int | None) -> dict[str, Any] | None:
        if user_id is None:
            return None
        try:
            return self.client.user(user_id)
        except CoreError as error:
            log.info("cannot name user %s: %s", user_id, error)
            return None

    def account_email(self, user_id: int) -> str | None:
        """The user's own address as core has it (``None`` for a user core does not know);
        ``CoreUnavailable`` propagates: what to do without an answer is the caller's choice."""
        try:
            user = self.client.user(user_id)
        except CoreUnavailable:
            raise
        except CoreError as error:
            log.info("cannot read the address of user %s: %s", user_id, error)
            return None
        return str(user["email"]) if user and user.get("email") else None

    def name(self, user_id: int | None) -> str:
        person = self.person(user_id)
        return str(person.get("name") or person.get("email")) if person else _("Someone")

    def status_name(self, viewer_id: int, product_id: int | None, status_id: int | None) -> str:
        """The status's name as ``viewer_id`` sees the product; empty when unknown."""
        if product_id is None or status_id is None:
            return ""
        product = self._product(viewer_id, product_id)
        for status in (product or {}).get("statuses", []):
            if status.get("id") == status_id:
                return str(status.get("name") or "")
        return ""

    def _product(self, viewer_id: int, product_id: int) -> dict[str, Any] | None:
        now = time.monotonic()
        cached = self._products.get(product_id)
        if cached and now - cached[0] < PRODUCT_TTL_SECONDS:
            return cached[1]
        try:
            product = self.client.for_user(viewer_id, "GET", f"/api/v1/products/{product_id}")
        except CoreError as error:
            log.info("cannot read product %s: %s", product_id, error)
            product = None
        if len(self._products) > 1000:
            self._products.clear()
        self._products[product_id] = (now, product)
        return product
