"""A card's timeline: notes, e-mails, files, task changes and history, newest first.

Each kind of item comes from a *source* registered here by the feature that owns it
(``@source("note")`` in the notes module, and so on), so this package knows no feature's
tables. The order, across kinds, is ``(at, kind, id)`` descending; a page ends at a
``Position`` and the next page starts strictly after it, so items that share a time (a bulk
import writes many in one instant) are neither repeated nor skipped.

A source is ``fn(session, card, before, limit) -> list[Entry]``: at most ``limit`` entries of its
kind on ``card``, in the timeline's order, all after ``before`` (``None``: from the newest).
``after_position`` gives the SQL condition that keeps a source's rows after a position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, true
from sqlalchemy.sql.elements import ColumnElement

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..cards.models import Card

__all__ = ["SOURCES", "Entry", "Position", "Source", "after_position", "source"]


@dataclass(frozen=True, order=True)
class Position:
    """Where an entry sits in the timeline; larger is newer."""

    at: datetime
    kind: str
    id: int


@dataclass(frozen=True)
class Entry:
    """One item of the timeline: its kind, time and id (unique within the kind), and the
    object it shows, already as its API's JSON (``data``: a note as ``GET /notes/{id}``)."""

    kind: str
    at: datetime
    id: int
    data: dict[str, Any]

    @property
    def position(self) -> Position:
        return Position(self.at, self.kind, self.id)


Source = Callable[["Session", "Card", Position | None, int], list[Entry]]

#: kind → source, in the order the kinds were registered
SOURCES: dict[str, Source] = {}


def source(kind: str) -> Callable[[Source], Source]:
    """Register ``fn`` as the source of the timeline's ``kind`` items."""

    def register(fn: Source) -> Source:
        SOURCES[kind] = fn
        return fn

    return register


def after_position(kind: str, at: Any, id: Any, before: Position | None) -> ColumnElement[bool]:
    """The condition on a source's columns ``at`` and ``id`` that keeps its rows of ``kind``
    that come after ``before`` in the timeline's (newest first) order."""
    if before is None:
        return true()
    if kind < before.kind:
        return at <= before.at
    if kind > before.kind:
        return at < before.at
    return or_(at < before.at, and_(at == before.at, id < before.id))
