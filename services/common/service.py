"""What one service's API is: how it identifies callers and what it promises (``ApiService``).

A leaf of ``cardcrm.common``: the operation decorator reads it per request, the OpenAPI
builder documents it, ``cardcrm.common.app.install_api`` installs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from .idempotency import IdempotencyStore


@dataclass
class ApiService:
    """What one service's API is: how callers are identified and what it promises.

    ``authenticate(level)`` resolves the request's caller for an operation declared with
    ``auth=level`` (one of ``levels``) and returns it, or raises ``Unauthorized`` /
    ``Forbidden`` / ``ServiceUnavailable``. ``authorize(caller, operation)``, when given, then
    refuses (``Forbidden``) what that caller may not do although its level lets it in (core:
    a service token without the operation's ``scope``). With an ``idempotency`` store every
    authenticated POST honours ``Idempotency-Key``, keyed per caller; without one the header
    is neither read nor documented. ``conditional_writes`` says that changes
    (PATCH, DELETE, and operations declared ``etag=True``) check ``If-Match``.
    """

    title: str
    description: str
    authenticate: Callable[[str], Any]
    authorize: Callable[[Any, Any], None] | None = None
    levels: tuple[str, ...] = ("user",)
    idempotency: IdempotencyStore | None = None
    conditional_writes: bool = False
    #: The error statuses any authenticated operation may answer.
    auth_errors: tuple[int, ...] = (401,)
    error_texts: dict[int, str] = field(default_factory=dict)
    #: Extra marshmallow field classes and their OpenAPI (type, format).
    field_types: dict[type, tuple[str, str | None]] = field(default_factory=dict)
    #: The document's paths are relative to where the service is reached (a mounted sidecar).
    relative_servers: bool = False
    #: More of ``/healthz``'s answer, e.g. a sidecar's place in core's feed (``sidecar.follower``).
    health: Callable[[], dict[str, Any]] | None = None


def api_service() -> ApiService:
    """The ``ApiService`` of the app handling the request."""
    service: ApiService = current_app.extensions["cardcrm_api"]
    return service
