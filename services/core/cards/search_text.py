"""What a card is found by: its title and its field values, folded (lower case, no accents),
kept in ``cards.search_text`` by every write (the ORM's, and the CSV import's bulk rows), so a
search is one ``LIKE`` on one column, whatever the language: "stefan" finds "Ștefan SRL"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..textsearch import fold


def card_search_text(title: str | None, fields: Mapping[str, Any] | None) -> str:
    parts = [title or ""]
    for value in (fields or {}).values():
        if isinstance(value, list):
            parts.extend(str(item) for item in value if item is not None)
        elif value is not None and not isinstance(value, bool):
            parts.append(str(value))
    return fold(" ".join(parts))
