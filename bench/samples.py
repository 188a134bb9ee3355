"""Plausible names, titles, task texts and custom field values for the generated data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

#: Users' time zones and how often each occurs (a European team with colleagues elsewhere).
TIMEZONES = (
    ("Europe/Bucharest", 8),
    ("Europe/Berlin", 8),
    ("Europe/London", 6),
    ("Europe/Paris", 5),
    ("Europe/Madrid", 3),
    ("Europe/Warsaw", 3),
    ("America/New_York", 6),
    ("America/Chicago", 3),
    ("America/Los_Angeles", 4),
    ("America/Sao_Paulo", 2),
    ("Asia/Kolkata", 3),
    ("Asia/Singapore", 2),
    ("Asia/Tokyo", 2),
    ("Australia/Sydney", 2),
    ("Africa/Lagos", 1),
    ("UTC", 2),
)

#: How cards spread over the status groups (split evenly between a group's statuses).
GROUP_WEIGHTS = {"inactive": 30, "in_progress": 45, "positive": 15, "negative": 10}

FIRST_NAMES = (
    "Ana", "Mihai", "Elena", "Andrei", "Ioana", "John", "Maria", "Lukas", "Sofia", "Omar",
    "Chen", "Priya", "Kenji", "Lucia", "Pierre", "Fatima", "David", "Olga", "Tomasz", "Amara",
)  # fmt: skip
LAST_NAMES = (
    "Popescu", "Ionescu", "Smith", "Müller", "Garcia", "Dubois", "Kowalski", "Rossi", "Tanaka",
    "Patel", "Nguyen", "Silva", "Okafor", "Johnson", "Schmidt", "Novak", "Costa", "Lee",
)  # fmt: skip
COMPANIES = (
    "ACME", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Soylent", "Vandelay", "Cyberdyne", "Tyrell", "Aperture", "Wonka", "Oscorp", "Dunder Mifflin",
)  # fmt: skip
POSITIONS = (
    "Backend developer", "Frontend developer", "Data engineer", "Account manager",
    "Sales representative", "Office manager", "UX designer", "DevOps engineer",
)  # fmt: skip
PROJECT_WORDS = (
    "Website relaunch", "CRM migration", "Office move", "Warehouse audit", "Mobile app",
    "Customer survey", "ERP upgrade", "Trade fair stand", "Security review", "Newsletter",
)  # fmt: skip
TASK_TEXTS = (
    "Call back about the offer", "Send the contract", "Follow up by e-mail", "Prepare the demo",
    "Ask for the signed order", "Check the payment", "Schedule the next meeting",
    "Send a reminder", "Update the proposal", "Collect feedback", "Book the interview",
    "Review the documents",
)  # fmt: skip


def card_title(rng: random.Random, template: str | None, number: int, created: datetime) -> str:
    company = rng.choice(COMPANIES)
    if template == "sales":
        return f"{company}: {rng.randint(2, 200)} licences"
    if template == "invoices":
        return f"Invoice {created.year}-{number:05d} ({company})"
    if template == "recruiting":
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    if template == "projects":
        return f"{rng.choice(PROJECT_WORDS)} for {company}"
    return f"Card {number}"


def field_values(
    rng: random.Random,
    definitions: list[dict[str, Any]],
    number: int,
    created: datetime,
    *,
    complete: bool,
) -> dict[str, Any]:
    """Values in their stored form (as ``clean_values`` returns them), in definition order.

    Required fields always get a value; the others most of the time, or always if ``complete``.
    """
    values = {}
    for definition in definitions:
        if complete or definition.get("required") or rng.random() < 0.75:
            values[definition["key"]] = _value(rng, definition, number, created)
    return values


def _value(rng: random.Random, definition: dict[str, Any], number: int, created: datetime) -> Any:
    kind, key = definition["type"], definition["key"]
    if kind == "text":
        if key == "number":
            return f"INV-{created.year}-{number:05d}"
        if key == "position":
            return rng.choice(POSITIONS)
        return f"{definition['label']} {number}"
    if kind == "number":
        return float(rng.randint(0, 10_000))
    if kind == "money":
        return f"{rng.randint(100, 5_000_000) / 100:.2f}"
    if kind == "date":
        return (created + timedelta(days=rng.randint(-30, 120))).date().isoformat()
    if kind == "datetime":
        moment = (created + timedelta(days=rng.randint(0, 60))).replace(microsecond=0)
        return moment.astimezone(UTC).isoformat()
    if kind == "choice":
        return rng.choice(definition["choices"])
    if kind == "multichoice":
        choices = definition["choices"]
        return rng.sample(choices, rng.randint(1, min(3, len(choices))))
    if kind == "checkbox":
        return rng.random() < 0.5
    if kind == "email":
        return f"{key.replace('_', '.')}{number}@example.com"
    if kind == "phone":
        return f"+40 7{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
    if kind == "url":
        return f"https://files.example.com/{key}/{number}.pdf"
    raise ValueError(f"no sample values for field type {kind!r}")
