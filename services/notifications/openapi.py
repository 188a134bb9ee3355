"""The service's OpenAPI document: core's generator over this service's operations."""

from __future__ import annotations

from typing import Any

from cardcrm.core.openapi import build_spec
from flask import Flask

DESCRIPTION = (
    "Preferences, the in-app inbox and the delivery log of cardcrm's notifications. "
    "Bearer tokens are core's user tokens; under `cardcrm up` the paths are below "
    "`/notifications`."
)


def build_document(app: Flask, prefix: str) -> dict[str, Any]:
    document = build_spec(app, prefix)
    document["info"]["title"] = "cardcrm notifications"
    document["info"]["description"] = DESCRIPTION
    return document
