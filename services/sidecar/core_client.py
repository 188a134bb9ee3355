"""A small HTTP client of the core service's API."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import requests

DEFAULT_TIMEOUT = 10.0
WHOAMI_TTL_SECONDS = 30.0
#: With a service token, makes the request the named user's (core records it as theirs).
ON_BEHALF_HEADER = "X-Cardcrm-On-Behalf-Of"
#: How long a user's profile read for a sidecar's own use (name, e-mail, time zone) is kept.
USER_TTL_SECONDS = 300.0


class CoreError(Exception):
    """Core answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        #: What core said, in words (its problem's ``detail`` and field errors).
        self.detail = detail


class CoreUnavailable(CoreError):
    """Core is down or answered 5xx: worth retrying later."""


def _dropped_before_answering(method: str, error: requests.RequestException) -> bool:
    """Whether a read's connection closed with no answer, as a kept-alive connection does when
    core's server ends it while the request is on its way: the read is asked once more, on a
    new connection. A time-out is not retried (core is slow, and asking again adds to it),
    nor is a write (core may have done it)."""
    return (
        method in ("GET", "HEAD")
        and isinstance(error, requests.ConnectionError)
        and not isinstance(error, requests.Timeout)
    )


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
        self._users: dict[int, tuple[float, dict[str, Any] | None]] = {}
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
        for attempt in (1, 2):
            try:
                response = self._http.request(
                    method,
                    self.base_url + path,
                    headers=headers,
                    timeout=timeout or self.timeout,
                    **kwargs,
                )
                break
            except requests.RequestException as error:
                if attempt == 1 and _dropped_before_answering(method, error):
                    continue
                raise CoreUnavailable(f"core is unreachable: {error}") from error
        if response.status_code >= 500:
            raise CoreUnavailable(f"core answered {response.status_code}", response.status_code)
        return response

    def json(self, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
        response = self.request(method, path, token, **kwargs)
        if response.status_code >= 400:
            detail = _detail(response)
            raise CoreError(
                f"core answered {response.status_code}: {detail}", response.status_code, detail
            )
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
        page: dict[str, Any] = self.json(
            "GET",
            "/api/v1/events",
            self.service_token,
            params={"after": after, "limit": limit, "wait": wait},
            timeout=self.timeout + wait,
        )
        return page

    # --- acting for a user (service token + ON_BEHALF_HEADER) -------------------------------

    def for_user(self, user_id: int, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Call core as the user ``user_id`` with the service token, e.g. to bring back a
        change made outside cardcrm so that history shows the user."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers[ON_BEHALF_HEADER] = str(user_id)
        answer: dict[str, Any] = self.json(
            method, path, self.service_token, headers=headers, **kwargs
        )
        return answer

    def get_task(self, task_id: int, user_id: int) -> dict[str, Any]:
        return self.for_user(user_id, "GET", f"/api/v1/tasks/{task_id}")

    def user(self, user_id: int, fresh: bool = False) -> dict[str, Any] | None:
        """A user's profile (``id``, ``email``, ``name``, ``timezone``), ``None`` if no such user.

        Read as ``GET /api/v1/me`` acting for the user and kept for ``USER_TTL_SECONDS``
        unless ``fresh``.
        """
        now = time.monotonic()
        with self._lock:
            cached = self._users.get(user_id)
            if cached and not fresh and now - cached[0] < USER_TTL_SECONDS:
                return cached[1]
        try:
            user: dict[str, Any] | None = self.for_user(user_id, "GET", "/api/v1/me")
        except CoreUnavailable:
            raise
        except CoreError as error:
            if error.status not in (401, 404):
                raise
            user = None
        with self._lock:
            if len(self._users) > 10_000:
                self._users.clear()
            self._users[user_id] = (now, user)
        return user

    def today(
        self, user_id: int, first: date, last: date | None = None, limit: int = 200
    ) -> dict[str, Any]:
        """The user's Today view for the period ``first``..``last`` (first page of the list)."""
        params = {"from": first.isoformat(), "to": (last or first).isoformat(), "limit": limit}
        return self.for_user(user_id, "GET", "/api/v1/today", params=params)

    def close_task(
        self,
        task_id: int,
        user_id: int,
        outcome: str = "done",
        comment: str | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"outcome": outcome}
        if comment:
            body["comment"] = comment
        return self.for_user(
            user_id, "POST", f"/api/v1/tasks/{task_id}/close", json=body, **_if_match(version)
        )

    def reopen_task(self, task_id: int, user_id: int, version: int | None = None) -> dict[str, Any]:
        return self.for_user(
            user_id, "POST", f"/api/v1/tasks/{task_id}/reopen", **_if_match(version)
        )

    def postpone_task(
        self, task_id: int, user_id: int, due: str, version: int | None = None
    ) -> dict[str, Any]:
        return self.for_user(
            user_id,
            "POST",
            f"/api/v1/tasks/{task_id}/postpone",
            json={"due": due},
            **_if_match(version),
        )

    def update_task(
        self, task_id: int, user_id: int, changes: dict[str, Any], version: int | None = None
    ) -> dict[str, Any]:
        return self.for_user(
            user_id, "PATCH", f"/api/v1/tasks/{task_id}", json=changes, **_if_match(version)
        )

    def create_task(self, card_id: int, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self.for_user(user_id, "POST", f"/api/v1/cards/{card_id}/tasks", json=body)

    def products(self, user_id: int) -> list[dict[str, Any]]:
        """The products the user sees (first page)."""
        page = self.for_user(user_id, "GET", "/api/v1/products", params={"limit": 100})
        return list(page.get("items") or [])

    def create_card(self, product_id: int, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return self.for_user(user_id, "POST", f"/api/v1/products/{product_id}/cards", json=body)

    def create_note(self, card_id: int, user_id: int, body: str) -> dict[str, Any]:
        return self.for_user(user_id, "POST", f"/api/v1/cards/{card_id}/notes", json={"body": body})

    def update_note(self, note_id: int, user_id: int, body: str) -> dict[str, Any]:
        return self.for_user(user_id, "PATCH", f"/api/v1/notes/{note_id}", json={"body": body})

    def record_sync_conflict(
        self,
        task_id: int,
        user_id: int | None,
        source: str,
        losing: dict[str, Any],
        winning: dict[str, Any] | None = None,
        detail: str | None = None,
    ) -> None:
        """Keep the losing version of a sync conflict in the task's history."""
        body: dict[str, Any] = {"source": source, "losing": losing, "winning": winning or {}}
        if detail:
            body["detail"] = detail
        path = f"/api/v1/tasks/{task_id}/sync-conflicts"
        if user_id is None:
            self.json("POST", path, self.service_token, json=body)
        else:
            self.for_user(user_id, "POST", path, json=body)

    def close(self) -> None:
        self._http.close()


def _if_match(version: int | None) -> dict[str, Any]:
    """``If-Match`` on core's version of the object: a change made meanwhile gets a 412."""
    return {"headers": {"If-Match": f'"{version}"'}} if version is not None else {}


def _detail(response: requests.Response) -> str:
    """The problem's ``detail``, with its field errors (``errors``) when it has some."""
    try:
        problem = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(problem, dict):
        return str(problem)[:200]
    detail = str(problem.get("detail"))
    errors = problem.get("errors")
    if isinstance(errors, dict) and errors:
        fields = "; ".join(
            f"{name}: {' '.join(map(str, messages)) if isinstance(messages, list) else messages}"
            for name, messages in errors.items()
        )
        detail = f"{detail} ({fields})"
    return detail
