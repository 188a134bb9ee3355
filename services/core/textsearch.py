"""Folding text for case- and accent-insensitive search ("Ștefan" is found by "stefan")."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import text
from sqlalchemy.orm import Session


def fold(text: str) -> str:
    """Lower case without accents: ``fold("Ștefan Ionescu") == "stefan ionescu"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


#: Digits that identify a phone number however it was written: the national number without
#: the country code or trunk prefix ("+40 721 000 111", "0040-721-000-111" and "0721 000 111"
#: all give "721000111"). Nine digits fit most numbering plans.
PHONE_KEY_DIGITS = 9


def phone_key(text: str) -> str:
    number = digits(text)
    return number[-PHONE_KEY_DIGITS:] if len(number) >= PHONE_KEY_DIGITS else number


def has_trigram_tables(session: Session) -> bool:
    """SQLite's trigram tables of ``search_text`` are there: ``cards_fts`` and ``notes_fts``
    (migration 0015 makes them where SQLite has FTS5 and its trigram tokenizer).

    Asked once per pooled connection (kept in its ``info``), not on every search: the schema
    is the one the migrations left when the process started."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    info = session.connection().info
    if "trigram_tables" not in info:
        found = session.execute(
            text("SELECT count(*) FROM sqlite_master WHERE name IN ('cards_fts', 'notes_fts')")
        ).scalar()
        info["trigram_tables"] = found == 2
    return bool(info["trigram_tables"])


def trigram_phrase(folded: str) -> str:
    """``folded`` as an FTS5 phrase: on a trigram table, a phrase of three characters or more
    matches exactly where ``LIKE '%folded%'`` does."""
    return '"' + folded.replace('"', '""') + '"'
