"""Declaring operations: core's ``ApiBlueprint`` (route, schemas, OpenAPI in one place), with
the caller identified by asking core who owns the bearer token (``GET /api/v1/me``).

Core's blueprint authenticates against core's own database; here every operation is
registered with it as public and the caller is resolved before the view instead (a
``before_request``, so that a request without a token gets 401 before its body is read),
while the OpenAPI document still says which operations need a token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cardcrm.core import api as core_api
from cardcrm.core.api import Page, Reply
from cardcrm.sidecar.core_client import CoreClient, CoreUnavailable
from flask import current_app, g, request

from .errors import CoreUnreachable, Unauthorized

__all__ = ["ApiBlueprint", "Page", "Reply", "current_user"]


class ApiBlueprint(core_api.ApiBlueprint):
    def __init__(self, name: str, import_name: str, tag: str, **options: Any) -> None:
        super().__init__(name, import_name, tag, **options)
        self.authenticated: set[str] = set()
        self.before_request(self._authenticate)

    def operation(
        self, rule: str, method: str = "GET", *, auth: str | None = "user", **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """As core's, where ``auth`` is ``"user"`` (a user's bearer token) or ``None``."""
        if auth not in ("user", None):
            raise ValueError(f"the notifications service has no auth level {auth!r}")
        if auth:
            options["errors"] = (*options.get("errors", ()), 503)
        register = super().operation(rule, method, auth=None, **options)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            wrapped = register(view)
            self.operations[-1].auth = auth  # for the OpenAPI document
            if auth:
                self.authenticated.add(f"{self.name}.{view.__name__}")
            return wrapped

        return decorator

    def _authenticate(self) -> None:
        if request.endpoint in self.authenticated:
            g.notifications_user = authenticate()


def authenticate() -> dict[str, Any]:
    """The user owning the request's bearer token, as core's ``/me`` describes them."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send a user's token as 'Authorization: Bearer <token>'.")
    client: CoreClient = current_app.extensions["cardcrm_notifications_core"]
    try:
        user = client.whoami(token.strip())
    except CoreUnavailable as error:
        raise CoreUnreachable(
            "Core cannot say who you are right now; try again in a moment."
        ) from error
    if user is None:
        raise Unauthorized("The token is unknown, revoked, or not a user's token.")
    return user


def current_user() -> dict[str, Any]:
    """The caller: ``{"id", "email", "name", "timezone", "is_admin"}``."""
    return g.notifications_user
