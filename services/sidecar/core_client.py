"""A small HTTP client of the core service's API."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

DEFAULT_TIMEOUT = 10.0
WHOAMI_TTL_SECONDS = 30.0


class CoreError(Exception):
    """Core answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CoreUnavailable(CoreError):
    """Core is down or answered 5xx: worth retrying later."""


class CoreClient:
    """Calls core at ``base_url``; ``service_token`` reads the event feed."""

    def __init__(
        self, base_url: str, service_token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service_token = service_token
        self.timeout = timeout
        self._http = requests.Session()
        self._whoami: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    # --- plumbing ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._http.request(
                method,
                self.base_url + path,
                headers=headers,
                timeout=timeout or self.timeout,
                **kwargs,
            )
        except requests.RequestException as error:
            raise CoreUnavailable(f"core is unreachable: {error}") from error
        if response.status_code >= 500:
            raise CoreUnavailable(f"core answered {response.status_code}", response.status_code)
        return response

    def json(self, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
        response = self.request(method, path, token, **kwargs)
        if response.status_code >= 400:
            detail = _detail(response)
            raise CoreError(f"core answered {response.status_code}: {detail}", response.status_code)
        return response.json() if response.content else None

    # --- what the sidecars ask --------------------------------------------------------------

    def whoami(self, token: str) -> dict[str, Any] | None:
        """The user owning ``token`` (``None`` if core refuses it), cached for a short while."""
        now = time.monotonic()
        with self._lock:
            cached = self._whoami.get(token)
            if cached and now - cached[0] < WHOAMI_TTL_SECONDS:
                return cached[1]
        response = self.request("GET", "/api/v1/me", token)
        user = response.json() if response.status_code == 200 else None
        if response.status_code not in (200, 401, 403):
            raise CoreError(f"core answered {response.status_code} to /me", response.status_code)
        with self._lock:
            if len(self._whoami) > 10_000:
                self._whoami.clear()
            self._whoami[token] = (now, user)
        return user

    def events(self, after: int, limit: int = 200, wait: float = 0) -> dict[str, Any]:
        return self.json(
            "GET",
            "/api/v1/events",
            self.service_token,
            params={"after": after, "limit": limit, "wait": wait},
            timeout=self.timeout + wait,
        )


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:200]
