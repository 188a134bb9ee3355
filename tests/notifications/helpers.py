"""Small actions the notifications stories share."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def sales_card(
    admin: Any, owner: Any, title: str = "ACME renewal", members: tuple[Any, ...] = ()
) -> dict[str, Any]:
    """A card of a new sales product, owned by ``owner`` (an ``Api``); the owner and
    ``members`` are made members of the product, so that they see and work on it."""
    product = admin.product("sales")
    if owner is not admin:
        admin.grant(product, owner, *members)
    return admin.card(product, title, owner_id=owner.user.id)


def checked_webhook(request: dict[str, Any], secret: str) -> dict[str, Any]:
    """The body of a webhook request, after checking its signature as a receiver would:
    an HMAC-SHA256 of the raw body with the shared secret, compared in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["X-Cardcrm-Signature"], expected)
    body = json.loads(request["body"])
    assert request["headers"]["X-Cardcrm-Event-Id"] == str(body["id"])
    return body


def text_of(message: Any) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: Any) -> str:
    return message.get_body(preferencelist=("html",)).get_content()
