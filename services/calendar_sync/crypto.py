"""CalDAV passwords encrypted at rest, with a key derived from the service's secret key."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b"cardcrm calendar sync"
INFO = b"caldav account passwords"
#: Feed tokens are sealed with a key of their own (the same secret, another HKDF ``info``).
FEED_TOKENS_INFO = b"ical feed tokens"


class PasswordUnreadable(Exception):
    """The password was encrypted with another secret key."""


class PasswordBox:
    """Fernet (AES-128-CBC with HMAC-SHA256) keyed by HKDF-SHA256 of ``SECRET_KEY``."""

    def __init__(self, secret_key: str, info: bytes = INFO) -> None:
        if not secret_key:
            raise ValueError("the calendar sync service needs a SECRET_KEY")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=info).derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, password: str) -> str:
        return self._fernet.encrypt(password.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as error:
            raise PasswordUnreadable(
                "the stored password cannot be decrypted (was CARDCRM_SECRET_KEY changed?); "
                "add the account again"
            ) from error
