"""Webhook secrets at rest: encrypted with a key derived from the service's SECRET_KEY.

A stolen copy of the database alone does not let anyone sign webhooks as cardcrm. If
SECRET_KEY changes, stored secrets cannot be read any more: deliveries say so and the user
sets a new secret.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"cardcrm-notifications/webhook-secret/" + secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(digest.digest()))

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str | None) -> str | None:
        """The clear value, or ``None`` when there is none or it was sealed with another key."""
        if not sealed:
            return None
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None
