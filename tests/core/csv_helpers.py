"""Helpers of the CSV tests: files as a spreadsheet writes them, and the API's answers."""

from __future__ import annotations

import csv
import io
from typing import Any


def lines(*rows: str) -> str:
    return "\r\n".join(rows) + "\r\n"


def to_csv(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def upload(api: Any, path: str, body: str | bytes, **query: Any) -> Any:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return api.request(
        "POST",
        path,
        data=data,
        headers={"Content-Type": "text/csv"},
        query_string={key: str(value).lower() for key, value in query.items()},
    )


def imported(api: Any, path: str, body: str | bytes, **query: Any) -> dict:
    response = upload(api, path, body, **query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refused(api: Any, path: str, body: str | bytes, status: int = 422, **query: Any) -> dict:
    response = upload(api, path, body, **query)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def download(api: Any, path: str, **query: Any) -> str:
    response = api.get(path, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_data(as_text=True)


def sales_product(api: Any) -> dict:
    return api.product(
        None,
        statuses=[
            {"name": "Lead", "group": "inactive"},
            {"name": "Talking", "group": "in_progress"},
            {"name": "Won", "group": "positive"},
        ],
        fields=[
            {"key": "notes", "label": "Notes", "type": "text"},
            {"key": "value", "label": "Value", "type": "money"},
            {"key": "phone", "label": "Phone", "type": "phone"},
        ],
    )


def cards_of(api: Any, product: dict) -> list[dict]:
    return api.ok("GET", f"products/{product['id']}/cards?limit=500")["items"]


def events_after(api: Any, after: int) -> list[dict]:
    found: list[dict] = []
    while True:
        page = api.ok("GET", f"events?after={after}&limit=1000")
        found += page["items"]
        if not page["items"]:
            return found
        after = page["items"][-1]["id"]


def last_event_id(api: Any) -> int:
    events = events_after(api, 0)
    return events[-1]["id"] if events else 0
