"""A card's e-mail address, ``card-<id>-<secret>@<domain>``: made, read back and rotated.

The secret is 20 characters of lowercase base32 (100 bits): unguessable, and unchanged by mail
servers that fold the local part's case. It is stored on the card (``cards.email_secret``);
rotating it makes a new one, and the old address is refused from then on.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_app_context

#: Used when neither ``CARDCRM_MAIL_DOMAIN`` nor a named ``CARDCRM_PUBLIC_URL`` gives one.
DEFAULT_DOMAIN = "localhost"
SECRET_LENGTH = 20
#: Ids are 32-bit ``INTEGER`` columns: a larger number names no card (and no query is made).
MAX_CARD_ID = 2**31 - 1
_ADDRESS = re.compile(r"card-([0-9]{1,10})-([a-z2-7]{" + str(SECRET_LENGTH) + "})")


def new_secret() -> str:
    """A fresh secret for a card's address."""
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()[:SECRET_LENGTH]


def domain_from_env(env: Mapping[str, str]) -> str:
    """``CARDCRM_MAIL_DOMAIN``, else the host of ``CARDCRM_PUBLIC_URL`` when it is a name (an
    IP address is no mail domain), else ``localhost``."""
    given = env.get("CARDCRM_MAIL_DOMAIN", "").strip().lower()
    if given:
        return given
    host = (urlsplit(env.get("CARDCRM_PUBLIC_URL", "").strip()).hostname or "").lower()
    if host and not re.fullmatch(r"[0-9.]+|.*:.*", host):
        return host
    return DEFAULT_DOMAIN


def mail_domain() -> str:
    """The domain of the running app (``MAIL_DOMAIN``), ``localhost`` outside an app."""
    if has_app_context():
        return str(current_app.config.get("MAIL_DOMAIN") or DEFAULT_DOMAIN)
    return DEFAULT_DOMAIN


def card_address(card: Any) -> str:
    """The card's address (``card`` has ``id`` and ``email_secret``)."""
    return address_of(card.id, card.email_secret)


def address_of(card_id: int, secret: str) -> str:
    return f"card-{card_id}-{secret}@{mail_domain()}"


def parse_address(address: str) -> tuple[int, str] | None:
    """``(card id, secret)`` of an address of this site's mail domain, else ``None``.

    Case is ignored (mail servers may fold it); so are surrounding ``<>`` and spaces.
    """
    text = address.strip().strip("<>").strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or domain != mail_domain().lower():
        return None
    found = _ADDRESS.fullmatch(local)
    if found is None or int(found.group(1)) > MAX_CARD_ID:
        return None
    return int(found.group(1)), found.group(2)


def secret_matches(stored: str | None, given: str) -> bool:
    return stored is not None and hmac.compare_digest(stored.encode(), given.encode())
